// Package dingtalktest is an in-process fake of the DingTalk open API calls dingrecall
// makes: the access token, the three robot send calls, the three robot recall calls, the
// three message status calls (groupMessages/query, privateChatMessages/query and
// oToMessages/readStatus), the two reaction calls (emotion/reply and emotion/recall; the
// comment at the top of emotion.go says what the fake assumes of them), the Stream mode
// gateway (connections/open and its WebSocket; the comment at the top of gateway.go lists
// its helpers and where it differs from DingTalk's), and interactive cards
// (createAndDeliver, the card update and button clicks over the gateway; the comment at
// the top of card.go says the same of them).
//
// A Server is a real HTTP server (net/http/httptest) that answers on URL() the way
// https://api.dingtalk.io does: successful calls answer 200 with the result object, failed
// calls answer 4xx/5xx with {"code", "message", "requestid"} and DingTalk's error codes.
// It records what it was asked for inspection (Sent, Message, Recalled, RecallAttempts,
// Calls, CallCount, PeakConcurrent, TokensIssued, Reactions, ReactionsShown) and injects
// faults (FailNext, FailNextOn, FailCallWith, FailKey, SetLatency, SetQPSLimit,
// SetRecallFailRate, InvalidateTokens, RefuseEmotion); WithProcessingTime keeps new
// messages in the PROCESSING status for a while.
// A Server is safe for concurrent use. New needs no *testing.T, so the app's sandbox mode
// runs on it; tests use NewTest, which closes the server when the test ends.
//
// Where the fake differs from DingTalk:
//   - There is one app and one robot. Any robotCode other than RobotCode() answers
//     invalidParameter.robotCode.notExsit; any openConversationId is accepted on send (there
//     is no group membership and no cool app check), and coolAppCode is never required.
//   - Access tokens, processQueryKeys and request IDs are random hex strings.
//   - oToMessages/batchSend returns a processQueryKey even when every user ID is invalid
//     (configured with WithInvalidStaffIDs); flowControlledStaffIdList is always empty.
//     Message.UserIDs lists the user IDs as requested, invalid ones included.
//   - Only the msgParam fields of sampleText (content) and sampleMarkdown (title, text) are
//     checked; the other known templates accept any JSON object.
//   - failedResult reasons are the fake's own wording (the Reason constants). The 24-hour
//     recall window (RecallWindow) applies to every chat kind and is measured with the
//     fake's clock (WithClock), as is token expiry. A key named twice in one recall call is
//     handled once. A key recalled before fails again, in failedResult, with
//     ReasonAlreadyRecalled: DingTalk documents neither that a second recall fails nor
//     how it words the reason; the fake assumes it fails and does not recall twice.
//   - The status calls answer sendStatus SUCCESS for a message in its chat, RECALLED once a
//     recall took it, and PROCESSING only for WithProcessingTime after sending. Where
//     DingTalk does not document its behaviour, the fake assumes: a key it never issued, or
//     one sent to another kind of chat or another openConversationId, answers 400
//     invalid.processQueryKey; every kind of key expires, answering 400
//     processQueryKey.expireTime, RecallWindow after sending by the fake's clock (DingTalk
//     states 24 hours for oToMessages/readStatus only), recalled or not; maxResults must be
//     1 to MaxStatusResults and nextToken is ignored. The fake tracks no reading, so
//     readUserIds and messageReadInfoList are always empty and hasMore is false.
//   - There is no throttle and no monthly quota unless a test asks for one (SetQPSLimit,
//     FailNext, SetRecallFailRate). SetQPSLimit admits at most n calls per path in any
//     one-second window of the real clock, not WithClock's; DingTalk does not document how
//     it counts its 20 calls a second, and this is the strictest reading.
//   - Checks run in a fixed order, after any SetLatency delay: path and method, QPS limit,
//     token, injected faults, content type (application/json is required of POST and PUT
//     calls), body or query string, then fields. DingTalk's own order is not documented.
//   - An unknown path answers 404 InvalidAction.NotFound and a method other than the
//     call's (GET for oToMessages/readStatus, PUT for the card update, POST for every
//     other call) answers 405 InvalidAction.MethodNotAllowed; both codes are the fake's
//     own.
package dingtalktest
