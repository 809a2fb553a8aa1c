// Package client is a Go client for dingrecall's HTTP API (/api/v1): send a
// message that dingrecall records, recall messages by the newest N, by key,
// by tag or by age (or preview a recall with a dry run), list what a chat
// holds and read the audit log.
//
// Build one [Client] with [New] and share it; it is safe for concurrent use.
// Every method takes a context first and answers either its result or an
// error. When the server answered with an error, that error is an [*Error]
// holding the HTTP status and the API's code, message and field:
//
//	sent, err := c.Send(ctx, client.Message{ConversationID: "cidAbC123==", Text: "deploy v1.2.3 started", Tag: "deploy-42"})
//	var apiErr *client.Error
//	switch {
//	case errors.Is(err, client.ErrQuotaExhausted) && errors.As(err, &apiErr):
//		// DingTalk refuses the bot's app until apiErr.ResetsOn: do not retry before
//	case errors.As(err, &apiErr) && apiErr.Retryable():
//		// 429, 503 (ErrIPBanned among them) or 504: try again after
//		// apiErr.RetryAfter (when the server said)
//	case err != nil:
//		// refused (4xx), failed in DingTalk (502) or the server was not reached
//	}
//
// A server with several bots (its BOTS_FILE) sends and recalls through the
// bot a [Message] or [Selection] names in Bot, or the one [WithBot] names
// for every call of the client, else through its default bot; a listing and
// the audit log hold the client's bot's messages and entries, or every
// bot's. Each [Sent], [TrackedMessage] and [AuditEntry] names its Bot. A
// bot the server does not have is a 400 with Field "bot".
//
// A recall reports what it selected, what it recalled and why the rest
// failed:
//
//	res, err := c.Recall(ctx, client.Tag("deploy-42"))
//	if err == nil && !res.Complete() {
//		for key, reason := range res.Failed { ... }
//	}
//
// The client does not retry on its own: a send that timed out may have been
// posted, and sending it again could post it twice.
package client
