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
// Calls, CallsByApp, CallCount, PeakConcurrent, TokensIssued, Reactions, ReactionsShown,
// OrgQuotaUsed) and injects faults (FailNext, FailNextOn, FailCallWith, FailKey,
// SetLatency, SetQPSLimit, SetAppQPSLimit, SetOrgQuota, ServeBanPage, SetRecallFailRate,
// InvalidateTokens, RefuseEmotion); WithProcessingTime keeps new messages in the
// PROCESSING status for a while.
//
// It knows one app by default (WithCredentials, WithRobotCode) and more with WithApp. An
// access token belongs to the app whose key and secret obtained it, and a call must name
// that app's robotCode. Each message, reaction and card remembers the app that made it
// (Message.AppKey, Message.RobotCode): another app's recall, status query, reaction
// recall or card update finds nothing, answering as for a key it never issued. Each
// Stream mode connection belongs to the app whose clientId opened it (Connection.AppKey,
// ConnectionsOf).
// A Server is safe for concurrent use. New needs no *testing.T, so the app's sandbox mode
// runs on it; tests use NewTest, which closes the server when the test ends.
//
// Where the fake differs from DingTalk:
//   - Each app has exactly one robot. A robotCode other than the calling app's answers
//     invalidParameter.robotCode.notExsit, even one of another app the fake knows; any
//     openConversationId is accepted on send (there is no group membership and no cool app
//     check), and coolAppCode is never required. All apps are in one organisation, but
//     quotas are set per app (SetOrgQuota).
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
//     SetAppQPSLimit, SetOrgQuota, FailNext, SetRecallFailRate). The QPS limits admit at
//     most n calls per app and path in any one-second window of the real clock, not
//     WithClock's; DingTalk does not document how it counts its 20 calls a second, and this
//     is the strictest reading.
//   - SetOrgQuota counts every call of the app once set (the token call and
//     connections/open included), not DingTalk's list of metered APIs, per app rather than
//     per organisation, and never resets by the calendar. A spent quota answers HTTP 403
//     with code Forbidden.AccessDenied.ApiCountLimitForOrg and a message in the words
//     DingTalk's help centre quotes for errcode 90020 ("您的企业本月api调用量已超过限制,
//     调用量:…次,额度:…次", http://www.dingtalk.com/qidian/help-detail-1061621972.html);
//     the 403 status is not in that page. The fake never answers the old style's
//     {"errcode": 90020} body.
//   - ServeBanPage answers 403 with a small HTML page of the fake's own. DingTalk documents
//     that an IP making more than 10,000 calls in 20 seconds is refused for 5 minutes with
//     an HTML page instead of an error code (https://help.dingtalk.io/open/development/call-frequency-limit;
//     a copy of the Chinese page quotes its fields status 1111, wait 5, punish "deny"),
//     but neither its status nor its markup; the fake does not ban by itself.
//   - PushCallback fills in the connection's robotCode when the body has none; a body
//     that names one is sent as it is.
//   - Checks run in a fixed order: the ban page (ServeBanPage), then after any SetLatency
//     delay path and method, QPS limit, token, quota (SetOrgQuota), injected faults,
//     content type (application/json is required of POST and PUT calls), body or query
//     string, then fields. DingTalk's own order is not documented.
//   - An unknown path answers 404 InvalidAction.NotFound and a method other than the
//     call's (GET for oToMessages/readStatus, PUT for the card update, POST for every
//     other call) answers 405 InvalidAction.MethodNotAllowed; both codes are the fake's
//     own.
package dingtalktest
