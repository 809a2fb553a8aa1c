package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/dingrecall/dingrecall/client"
)

// exampleServer starts a dingrecall server on a fake DingTalk for an
// example, and returns its URL, its API token and how to stop it.
func exampleServer(env map[string]string) (string, string, func()) {
	s, err := startServer(env)
	if err != nil {
		log.Fatal(err)
	}
	return s.URL, s.Token, func() {
		if err := s.Stop(); err != nil {
			log.Fatal(err)
		}
	}
}

// A deploy job tags what it posts, and on failure recalls it all.
func Example() {
	url, token, stop := exampleServer(nil)
	defer stop()

	ctx := context.Background()
	c, err := client.New(url, token, client.WithTimeout(30*time.Second))
	if err != nil {
		log.Fatal(err)
	}
	for _, text := range []string{"deploying v1.2.3 to prod", "migrating the database"} {
		if _, err := c.Send(ctx, client.Message{ConversationID: "cidOps==", Text: text, Tag: "deploy-42"}); err != nil {
			log.Fatal(err)
		}
	}

	// The deploy failed: first see what would go, then recall it.
	preview, err := c.DryRun(ctx, client.Tag("deploy-42"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("would recall:", len(preview.Selected))
	res, err := c.Recall(ctx, client.Tag("deploy-42"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("recalled:", len(res.Recalled), "failed:", len(res.Failed), "complete:", res.Complete())
	// Output:
	// would recall: 2
	// recalled: 2 failed: 0 complete: true
}

func ExampleClient_Send() {
	url, token, stop := exampleServer(nil)
	defer stop()

	c, err := client.New(url, token)
	if err != nil {
		log.Fatal(err)
	}
	// A self-cleaning notice: the server recalls it after ten minutes.
	sent, err := c.Send(context.Background(), client.Message{
		ConversationID: "cidOps==",
		Markdown:       &client.Markdown{Title: "maintenance", Text: "**db-1** restarts now"},
		TTL:            10 * time.Minute,
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("chat:", sent.ConversationID)
	fmt.Println("has a key:", sent.ProcessQueryKey != "")
	fmt.Println("recalled after:", sent.ExpiresAt.Sub(sent.SentAt))
	// Output:
	// chat: cidOps==
	// has a key: true
	// recalled after: 10m0s
}

func ExampleClient_Recall() {
	url, token, stop := exampleServer(nil)
	defer stop()

	ctx := context.Background()
	c, err := client.New(url, token)
	if err != nil {
		log.Fatal(err)
	}
	for i := range 3 {
		if _, err := c.Send(ctx, client.Message{ConversationID: "cidOps==", Text: fmt.Sprintf("alert %d", i)}); err != nil {
			log.Fatal(err)
		}
	}
	// The newest two; a key the server does not hold fails with a reason.
	res, err := c.Recall(ctx, client.Last("cidOps==", 2))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("recalled:", len(res.Recalled))
	res, err = c.Recall(ctx, client.Keys("cidOps==", "not-a-key"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("complete:", res.Complete(), "failed:", len(res.Failed))
	// Output:
	// recalled: 2
	// complete: false failed: 1
}

func ExampleClient_Messages() {
	url, token, stop := exampleServer(nil)
	defer stop()

	ctx := context.Background()
	c, err := client.New(url, token)
	if err != nil {
		log.Fatal(err)
	}
	for _, text := range []string{"first", "second"} {
		if _, err := c.Send(ctx, client.Message{ConversationID: "cidOps==", Text: text, Tag: "demo"}); err != nil {
			log.Fatal(err)
		}
	}
	msgs, err := c.Messages(ctx, "cidOps==", 10)
	if err != nil {
		log.Fatal(err)
	}
	for _, m := range msgs {
		fmt.Println(m.Tag, m.ChatType, m.MsgKey, m.MsgParam)
	}
	// Output:
	// demo group sampleText {"content":"second"}
	// demo group sampleText {"content":"first"}
}

func ExampleClient_Audit() {
	url, token, stop := exampleServer(nil)
	defer stop()

	ctx := context.Background()
	c, err := client.New(url, token)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := c.Send(ctx, client.Message{ConversationID: "cidOps==", Text: "oops", Tag: "t1"}); err != nil {
		log.Fatal(err)
	}
	if _, err := c.Recall(ctx, client.Tag("t1")); err != nil {
		log.Fatal(err)
	}
	entries, err := c.Audit(ctx, "cidOps==", 10)
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range entries {
		fmt.Println(e.Action, e.Source, e.Request)
		for _, it := range e.Items {
			fmt.Println(" ", it.Result, it.Tag, it.MsgParam)
		}
	}
	// Output:
	// recall api tag t1
	//   recalled t1 {"content":"oops"}
}

// A 400 names the field at fault; a 429, 503 or 504 may be tried again.
func ExampleError() {
	url, token, stop := exampleServer(map[string]string{"BURST_LIMIT": "1"})
	defer stop()

	ctx := context.Background()
	c, err := client.New(url, token)
	if err != nil {
		log.Fatal(err)
	}
	_, err = c.Send(ctx, client.Message{Text: "to nowhere"})
	var apiErr *client.Error
	if errors.As(err, &apiErr) {
		fmt.Println(apiErr.Status, apiErr.Code, apiErr.Field, apiErr.Retryable())
	}

	for _, text := range []string{"one", "two"} {
		_, err = c.Send(ctx, client.Message{ConversationID: "cidBusy==", Text: text})
	}
	if errors.As(err, &apiErr) && apiErr.Retryable() {
		fmt.Println(apiErr.Status, apiErr.Code, "retry after a wait:", apiErr.RetryAfter > 0)
	}
	// Output:
	// 400 invalid_request conversationId false
	// 429 burst retry after a wait: true
}

func ExampleNew() {
	_, err := client.New("dingrecall.example.com", "token")
	fmt.Println(errors.Is(err, client.ErrInvalidOption))
	fmt.Println(err)
	// Output:
	// true
	// dingrecall client: invalid option: base URL "dingrecall.example.com": want an http:// or https:// URL
}
