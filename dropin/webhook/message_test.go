package webhook_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dingrecall/dingrecall/dingtalk"
	"github.com/dingrecall/dingrecall/dropin/webhook"
)

func TestMapEveryMsgtype(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		key     string
		param   map[string]string
		dropped []string // substrings, one per expected note
	}{
		{"text", `{"msgtype":"text","text":{"content":"disk 91% on db-3"}}`,
			dingtalk.MsgKeyText, map[string]string{"content": "disk 91% on db-3"}, nil},
		{"text with at", `{"msgtype":"text","text":{"content":"@13800000000 look"},"at":{"atMobiles":["13800000000"],"atUserIds":["u1"],"isAtAll":false}}`,
			dingtalk.MsgKeyText, map[string]string{"content": "@13800000000 look"}, []string{"at:"}},
		{"text with isAtAll as a string", `{"msgtype":"text","text":{"content":"all"},"at":{"isAtAll":"true"}}`,
			dingtalk.MsgKeyText, map[string]string{"content": "all"}, []string{"at:"}},
		{"text with an empty at", `{"msgtype":"text","text":{"content":"x"},"at":{"atMobiles":[],"isAtAll":false}}`,
			dingtalk.MsgKeyText, map[string]string{"content": "x"}, nil},
		{"text with numeric atUserIds", `{"msgtype":"text","text":{"content":"x"},"at":{"atUserIds":[12345]}}`,
			dingtalk.MsgKeyText, map[string]string{"content": "x"}, []string{"at:"}},
		{"markdown", `{"msgtype":"markdown","markdown":{"title":"Deploy","text":"## v1.2 **done**"}}`,
			dingtalk.MsgKeyMarkdown, map[string]string{"title": "Deploy", "text": "## v1.2 **done**"}, nil},
		{"link", `{"msgtype":"link","link":{"title":"Build 42","text":"passed","messageUrl":"https://ci.example/42","picUrl":"https://ci.example/ok.png"}}`,
			webhook.KeyLink, map[string]string{"title": "Build 42", "text": "passed", "messageUrl": "https://ci.example/42", "picUrl": "https://ci.example/ok.png"}, nil},
		{"link without a picture", `{"msgtype":"link","link":{"title":"T","text":"x","messageUrl":"https://e.example"}}`,
			webhook.KeyLink, map[string]string{"title": "T", "text": "x", "messageUrl": "https://e.example", "picUrl": ""}, nil},
		{"actionCard with one button of its own", `{"msgtype":"actionCard","actionCard":{"title":"T","text":"body","singleTitle":"Open","singleURL":"https://e.example/1","btnOrientation":"0"}}`,
			webhook.KeyActionCard, map[string]string{"title": "T", "text": "body", "singleTitle": "Open", "singleURL": "https://e.example/1"}, nil},
		{"actionCard single over btns", `{"msgtype":"actionCard","actionCard":{"title":"T","text":"b","singleTitle":"Open","singleURL":"https://e.example/1","btns":[{"title":"A","actionURL":"https://e.example/a"}]}}`,
			webhook.KeyActionCard, map[string]string{"title": "T", "text": "b", "singleTitle": "Open", "singleURL": "https://e.example/1"}, nil},
		{"actionCard with a btns list of one", `{"msgtype":"actionCard","actionCard":{"title":"T","text":"b","btns":[{"title":"A","actionURL":"https://e.example/a"}]}}`,
			webhook.KeyActionCard, map[string]string{"title": "T", "text": "b", "singleTitle": "A", "singleURL": "https://e.example/a"}, nil},
		{"actionCard two buttons stacked", `{"msgtype":"actionCard","actionCard":{"title":"T","text":"b","btnOrientation":0,"btns":[{"title":"A","actionURL":"https://e.example/a"},{"title":"B","actionURL":"https://e.example/b"}]}}`,
			webhook.KeyActionCard + "2", map[string]string{"title": "T", "text": "b", "actionTitle1": "A", "actionURL1": "https://e.example/a", "actionTitle2": "B", "actionURL2": "https://e.example/b"}, nil},
		{"actionCard two buttons side by side (number)", `{"msgtype":"actionCard","actionCard":{"title":"T","text":"b","btnOrientation":1,"btns":[{"title":"A","actionURL":"https://e.example/a"},{"title":"B","actionURL":"https://e.example/b"}]}}`,
			webhook.KeyActionCardRow, map[string]string{"title": "T", "text": "b", "buttonTitle1": "A", "buttonUrl1": "https://e.example/a", "buttonTitle2": "B", "buttonUrl2": "https://e.example/b"}, nil},
		{"actionCard two buttons side by side (string)", `{"msgtype":"actionCard","actionCard":{"title":"T","text":"b","btnOrientation":"1","btns":[{"title":"A","actionURL":"https://e.example/a"},{"title":"B","actionURL":"https://e.example/b"}]}}`,
			webhook.KeyActionCardRow, map[string]string{"title": "T", "text": "b", "buttonTitle1": "A", "buttonUrl1": "https://e.example/a", "buttonTitle2": "B", "buttonUrl2": "https://e.example/b"}, nil},
		{"actionCard three buttons side by side are stacked", `{"msgtype":"actionCard","actionCard":{"title":"T","text":"b","btnOrientation":"1","hideAvatar":1,"btns":[{"title":"A","actionURL":"https://e.example/a"},{"title":"B","actionURL":"https://e.example/b"},{"title":"C","actionURL":"https://e.example/c"}]}}`,
			webhook.KeyActionCard + "3", map[string]string{"title": "T", "text": "b", "actionTitle1": "A", "actionURL1": "https://e.example/a", "actionTitle2": "B", "actionURL2": "https://e.example/b", "actionTitle3": "C", "actionURL3": "https://e.example/c"},
			[]string{"hideAvatar", "btnOrientation"}},
		{"actionCard five buttons", buttons(5), webhook.KeyActionCard + "5", buttonParams(5), nil},
		{"feedCard", `{"msgtype":"feedCard","feedCard":{"links":[{"title":"First [beta]","messageURL":"https://e.example/1","picURL":"https://e.example/1.png"},{"title":"Second","messageURL":"https://e.example/2"}]}}`,
			dingtalk.MsgKeyMarkdown, map[string]string{"title": "First [beta]", "text": "![](https://e.example/1.png)\n\n[First \\[beta\\]](https://e.example/1)\n\n[Second](https://e.example/2)"},
			[]string{"feedCard"}},
		{"unknown fields are ignored", `{"msgtype":"text","text":{"content":"x","extra":1},"safe":true}`,
			dingtalk.MsgKeyText, map[string]string{"content": "x"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := webhook.Map([]byte(tt.body))
			require.NoError(t, err)
			assert.Equal(t, tt.key, m.Message.MsgKey)
			var got map[string]string
			require.NoError(t, json.Unmarshal([]byte(m.Message.MsgParam), &got))
			assert.Equal(t, tt.param, got)
			require.Len(t, m.Dropped, len(tt.dropped), "%q", m.Dropped)
			for i, d := range tt.dropped {
				assert.Contains(t, m.Dropped[i], d)
			}
			assert.NoError(t, m.Message.Validate())
		})
	}
}

// buttons is an actionCard body with n buttons.
func buttons(n int) string {
	var btns []string
	for i := 1; i <= n; i++ {
		btns = append(btns, fmt.Sprintf(`{"title":"B%d","actionURL":"https://e.example/%d"}`, i, i))
	}
	return `{"msgtype":"actionCard","actionCard":{"title":"T","text":"b","btns":[` + strings.Join(btns, ",") + `]}}`
}

// buttonParams is the msgParam of buttons(n) for n <= 5.
func buttonParams(n int) map[string]string {
	p := map[string]string{"title": "T", "text": "b"}
	for i := 1; i <= n; i++ {
		p[fmt.Sprintf("actionTitle%d", i)] = fmt.Sprintf("B%d", i)
		p[fmt.Sprintf("actionURL%d", i)] = fmt.Sprintf("https://e.example/%d", i)
	}
	return p
}

func TestMapSixButtonsBecomeMarkdownLinks(t *testing.T) {
	m, err := webhook.Map([]byte(buttons(6)))
	require.NoError(t, err)
	assert.Equal(t, dingtalk.MsgKeyMarkdown, m.Message.MsgKey)
	var got map[string]string
	require.NoError(t, json.Unmarshal([]byte(m.Message.MsgParam), &got))
	assert.Equal(t, "T", got["title"])
	assert.True(t, strings.HasPrefix(got["text"], "b\n\n[B1](https://e.example/1)"), got["text"])
	assert.True(t, strings.HasSuffix(got["text"], "[B6](https://e.example/6)"), got["text"])
	require.Len(t, m.Dropped, 1)
	assert.Contains(t, m.Dropped[0], "6 buttons")
}

func TestMapRefusals(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		check func(t *testing.T, err error)
	}{
		{"empty body", ``, isErr(webhook.ErrMissingBody)},
		{"blank body", " \n", isErr(webhook.ErrMissingBody)},
		{"not JSON", `msgtype=text`, isErr(webhook.ErrMissingBody)},
		{"a JSON string", `"text"`, isErr(webhook.ErrMissingBody)},
		{"two JSON values", `{"msgtype":"text","text":{"content":"a"}} {}`, isErr(webhook.ErrMissingBody)},
		{"no msgtype", `{"text":{"content":"a"}}`, unsupported("")},
		{"image is not a custom robot msgtype", `{"msgtype":"image","image":{"picURL":"x"}}`, unsupported("image")},
		{"msgtype in another case", `{"msgtype":"Markdown","markdown":{"title":"t","text":"x"}}`, unsupported("Markdown")},
		{"text without its object", `{"msgtype":"text"}`, field("text")},
		{"empty content", `{"msgtype":"text","text":{"content":"  "}}`, field("text.content")},
		{"content not a string", `{"msgtype":"text","text":{"content":42}}`, field("text.content")},
		{"markdown without title", `{"msgtype":"markdown","markdown":{"text":"x"}}`, field("markdown.title")},
		{"markdown without text", `{"msgtype":"markdown","markdown":{"title":"t"}}`, field("markdown.text")},
		{"link without messageUrl", `{"msgtype":"link","link":{"title":"t","text":"x"}}`, field("link.messageUrl")},
		{"actionCard without buttons", `{"msgtype":"actionCard","actionCard":{"title":"t","text":"x"}}`, field("actionCard.singleTitle")},
		{"actionCard singleTitle without its URL", `{"msgtype":"actionCard","actionCard":{"title":"t","text":"x","singleTitle":"go"}}`, field("actionCard.singleURL")},
		{"actionCard button without URL", `{"msgtype":"actionCard","actionCard":{"title":"t","text":"x","btns":[{"title":"a","actionURL":"u"},{"title":"b"}]}}`, field("actionCard.btns[1].actionURL")},
		{"actionCard btnOrientation an object", `{"msgtype":"actionCard","actionCard":{"title":"t","text":"x","singleTitle":"a","singleURL":"u","btnOrientation":{}}}`, field("actionCard.btnOrientation")},
		{"feedCard without links", `{"msgtype":"feedCard","feedCard":{"links":[]}}`, field("feedCard.links")},
		{"feedCard link without URL", `{"msgtype":"feedCard","feedCard":{"links":[{"title":"a"}]}}`, field("feedCard.links[0].messageURL")},
		{"too long once mapped", `{"msgtype":"text","text":{"content":"` + strings.Repeat("x", dingtalk.MaxMsgParamBytes) + `"}}`, func(t *testing.T, err error) {
			var tl *webhook.TooLongError
			require.ErrorAs(t, err, &tl)
			assert.Greater(t, tl.Bytes, dingtalk.MaxMsgParamBytes)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := webhook.Map([]byte(tt.body))
			require.Error(t, err)
			tt.check(t, err)
		})
	}
}

func isErr(want error) func(*testing.T, error) {
	return func(t *testing.T, err error) { assert.ErrorIs(t, err, want) }
}

func unsupported(msgtype string) func(*testing.T, error) {
	return func(t *testing.T, err error) {
		var u *webhook.UnsupportedError
		require.ErrorAs(t, err, &u)
		assert.Equal(t, msgtype, u.MsgType)
	}
}

func field(name string) func(*testing.T, error) {
	return func(t *testing.T, err error) {
		var f *webhook.FieldError
		require.ErrorAs(t, err, &f)
		assert.Equal(t, name, f.Field)
		assert.Contains(t, f.Error(), strings.ReplaceAll(name, ".", "->"))
	}
}
