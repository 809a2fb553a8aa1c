package dingtalk_test

import (
	"context"
	"fmt"
	"log"

	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/dingtalk/dingtalktest"
)

// Send a message into a group and recall it. The fake stands in for
// DingTalk; against the real API, leave out WithBaseURL and pass the app's
// own key and secret.
func Example() {
	fake := dingtalktest.New()
	defer fake.Close()

	client, err := dingtalk.NewClient(fake.AppKey(), fake.AppSecret(), dingtalk.WithBaseURL(fake.URL()))
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	key, err := client.SendGroup(ctx, "cidOpsAlerts==", dingtalk.Text("deploying v1.2.3 to production"))
	if err != nil {
		log.Fatal(err)
	}
	res, err := client.RecallGroup(ctx, "cidOpsAlerts==", []string{key, "no-such-key"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("recalled:", len(res.Recalled), "failed:", len(res.Failed))
	// Output: recalled: 1 failed: 1
}
