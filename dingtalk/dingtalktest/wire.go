package dingtalktest

import (
	"encoding/json"
	"net/http"
)

// The fake's own wire types: it does not import the client package it fakes, so a bug in
// the client's JSON tags cannot hide in both.

type tokenRequest struct {
	AppKey    string `json:"appKey"`
	AppSecret string `json:"appSecret"`
}

type tokenResponse struct {
	AccessToken string `json:"accessToken"`
	ExpireIn    int64  `json:"expireIn"`
}

// sendRequest is the body of all three send calls; each uses the fields its chat needs.
type sendRequest struct {
	MsgKey             string   `json:"msgKey"`
	MsgParam           string   `json:"msgParam"`
	OpenConversationID string   `json:"openConversationId"`
	RobotCode          string   `json:"robotCode"`
	CoolAppCode        string   `json:"coolAppCode"`
	UserIDs            []string `json:"userIds"`
}

type sendResponse struct {
	ProcessQueryKey string `json:"processQueryKey"`
}

type otoSendResponse struct {
	ProcessQueryKey           string   `json:"processQueryKey"`
	InvalidStaffIDList        []string `json:"invalidStaffIdList"`
	FlowControlledStaffIDList []string `json:"flowControlledStaffIdList"`
}

// recallRequest is the body of all three recall calls; the one-to-one call has no
// openConversationId.
type recallRequest struct {
	OpenConversationID string   `json:"openConversationId"`
	RobotCode          string   `json:"robotCode"`
	ProcessQueryKeys   []string `json:"processQueryKeys"`
}

type recallResponse struct {
	SuccessResult []string          `json:"successResult"`
	FailedResult  map[string]string `json:"failedResult"`
}

type errorBody struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	RequestID string `json:"requestid"`
}

// apiError is an error answer: the HTTP status and the body's code and message.
type apiError struct {
	status  int
	code    string
	message string
}

// DingTalk error codes the fake answers with.
const (
	codeBadCredentials  = "invalidClientIdOrSecret"
	codeBadToken        = "InvalidAuthentication"
	codeInvalidParam    = "invalidParameter.param.invalid"
	codeMissingRobot    = "miss.chatbotId"
	codeUnknownRobot    = "invalidParameter.robotCode.notExsit"
	codeMissingConv     = "miss.openConversationId"
	codeNoTemplate      = "template.not.existed"
	codeMissingKeys     = "invalidParameter.processQueryKey.missing"
	codeTooManyKeys     = "invalidParameter.processQueryKeys.overMax"
	codeSystemError     = "system.error"
	codeQPSLimit        = "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi"
	codeOrgQuotaReached = "Forbidden.AccessDenied.ApiCountLimitForOrg"
)

func badRequest(code, message string) *apiError {
	return &apiError{http.StatusBadRequest, code, message}
}

func invalidParam(message string) *apiError {
	return badRequest(codeInvalidParam, message)
}

// requestedKeys returns the distinct processQueryKeys a recall body names, in order, or
// nil when the body does not parse.
func requestedKeys(body []byte) []string {
	var req recallRequest
	if json.Unmarshal(body, &req) != nil {
		return nil
	}
	return distinct(req.ProcessQueryKeys)
}

// distinct returns keys without repeats, in first-seen order.
func distinct(keys []string) []string {
	seen := make(map[string]bool, len(keys))
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}
