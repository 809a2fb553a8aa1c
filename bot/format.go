package bot

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dingrecall/dingrecall/store"
)

// maxEcho is the most characters of what someone typed a reply repeats.
const maxEcho = 80

// clip shortens what someone typed for echoing it in a reply.
func clip(s string) string {
	if utf8.RuneCountInString(s) <= maxEcho {
		return s
	}
	return string([]rune(s)[:maxEcho-1]) + "…"
}

// maxReplyRunes keeps a reply's msgParam within DingTalk's 15,000 bytes
// (3 bytes a character at worst, plus the JSON around it).
const maxReplyRunes = 4900

// fitReply cuts a reply that DingTalk would refuse as too large.
func fitReply(text string) string {
	if utf8.RuneCountInString(text) <= maxReplyRunes {
		return text
	}
	return string([]rune(text)[:maxReplyRunes-1]) + "…"
}

// Preview is the first line of a message's content, cut to at most n
// characters: the text of sampleText, the title of sampleMarkdown, else the
// raw parameters.
func Preview(m store.Message, n int) string {
	var p struct {
		Content string `json:"content"`
		Title   string `json:"title"`
		Text    string `json:"text"`
	}
	text := m.MsgParam
	if json.Unmarshal([]byte(m.MsgParam), &p) == nil {
		for _, s := range []string{p.Content, p.Title, p.Text} {
			if strings.TrimSpace(s) != "" {
				text = s
				break
			}
		}
	}
	text, _, _ = strings.Cut(strings.TrimSpace(text), "\n")
	if utf8.RuneCountInString(text) > n {
		r := []rune(text)
		text = string(r[:n-1]) + "…"
	}
	return text
}

// span formats a duration for replies in the bot's language: 2m, 1h30m,
// 45s, or in Chinese 2分钟, 1小时30分钟, 45秒.
func (b *Bot) span(d time.Duration) string { return spanIn(b.tpl.Lang(), d) }

// spanIn formats a duration in lang.
func spanIn(lang string, d time.Duration) string {
	if lang == "zh" {
		d = d.Round(time.Second)
		var out strings.Builder
		for _, u := range []struct {
			d    time.Duration
			name string
		}{{time.Hour, "小时"}, {time.Minute, "分钟"}, {time.Second, "秒"}} {
			if n := d / u.d; n > 0 {
				fmt.Fprintf(&out, "%d%s", n, u.name)
				d -= n * u.d
			}
		}
		if out.Len() == 0 {
			return "0秒"
		}
		return out.String()
	}
	return span(d)
}

// span formats a duration: 2m, 1h30m, 45s.
func span(d time.Duration) string {
	s := d.Round(time.Second).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// clock formats a message time for replies.
func clock(t time.Time) string { return t.Local().Format("01-02 15:04:05") }
