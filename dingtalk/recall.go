package dingtalk

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"golang.org/x/sync/errgroup"
)

// ReasonNotAnswered is the failure reason of a key DingTalk's answer named
// neither as recalled nor as failed.
const ReasonNotAnswered = "not in DingTalk's answer"

// dingrecall's own codes for per-key recall failures that DingTalk reports
// without a code.
const (
	// CodeAlreadyRecalled marks a key whose failure reason says the message
	// had been recalled before (see IsAlreadyRecalled).
	CodeAlreadyRecalled = "dingrecall.alreadyRecalled"
	// CodeNotAnswered marks a key DingTalk's answer did not name.
	CodeNotAnswered = "dingrecall.notAnswered"
)

// Failure is why one key was not recalled: a code to decide by and the
// words that go with it. A batch that failed as a whole gives each of its
// keys the error's Code and Message; a key DingTalk refused on its own has
// only DingTalk's words (failedResult carries no code), except for the codes
// above, which dingrecall assigns.
type Failure struct {
	Code    string
	Message string
}

// String is "code: message", or whichever of the two is set.
func (f Failure) String() string {
	switch {
	case f.Code != "" && f.Message != "":
		return f.Code + ": " + f.Message
	case f.Code != "":
		return f.Code
	}
	return f.Message
}

// RecallResult is the merged outcome of one recall: every key asked for is in
// exactly one of Recalled and Failed.
type RecallResult struct {
	// Recalled lists the recalled keys, in the order they were asked for.
	Recalled []string
	// Failed maps each key that was not recalled to why: DingTalk's per-key
	// reason, or the code and message of the error that failed its batch.
	Failed map[string]Failure
}

// recallRequest is the body of the three recall APIs.
type recallRequest struct {
	OpenConversationID string   `json:"openConversationId,omitempty"`
	RobotCode          string   `json:"robotCode"`
	ProcessQueryKeys   []string `json:"processQueryKeys"`
}

// recallResponse is the answer of the three recall APIs.
type recallResponse struct {
	SuccessResult []string          `json:"successResult"`
	FailedResult  map[string]string `json:"failedResult"`
}

// RecallOption adjusts one recall.
type RecallOption func(*recallRequest)

// AsRobot recalls with this robotCode instead of the client's: DingTalk
// recalls a message only with the robotCode it was sent with. An empty code
// keeps the client's.
func AsRobot(code string) RecallOption {
	return func(r *recallRequest) {
		if code != "" {
			r.RobotCode = code
		}
	}
}

// RecallGroup recalls the messages with these keys from the group chat they
// were sent into.
func (c *Client) RecallGroup(ctx context.Context, conversationID string, keys []string, opts ...RecallOption) (*RecallResult, error) {
	if strings.TrimSpace(conversationID) == "" {
		return nil, fmt.Errorf("%w: conversation id is empty", ErrInvalidMessage)
	}
	return c.recall(ctx, PathGroupRecall, conversationID, keys, opts)
}

// RecallPrivate recalls the messages with these keys from the private chat
// they were sent into.
func (c *Client) RecallPrivate(ctx context.Context, conversationID string, keys []string, opts ...RecallOption) (*RecallResult, error) {
	if strings.TrimSpace(conversationID) == "" {
		return nil, fmt.Errorf("%w: conversation id is empty", ErrInvalidMessage)
	}
	return c.recall(ctx, PathPrivateRecall, conversationID, keys, opts)
}

// RecallOTO recalls one-to-one messages with these keys.
func (c *Client) RecallOTO(ctx context.Context, keys []string, opts ...RecallOption) (*RecallResult, error) {
	return c.recall(ctx, PathOTORecall, "", keys, opts)
}

// recall splits keys into batches of MaxKeysPerCall, runs them with bounded
// concurrency under the API's QPS limit and merges the answers. It returns an
// error only for arguments it refuses before calling DingTalk; a batch that
// fails puts each of its keys into Failed with that batch's error.
func (c *Client) recall(ctx context.Context, api, conversationID string, keys []string, opts []RecallOption) (*RecallResult, error) {
	keys = uniqueKeys(keys)
	if slices.Contains(keys, "") {
		return nil, fmt.Errorf("%w: empty processQueryKey", ErrInvalidMessage)
	}
	res := &RecallResult{Failed: make(map[string]Failure)}
	if len(keys) == 0 {
		return res, nil
	}
	batches := slices.Collect(slices.Chunk(keys, MaxKeysPerCall))
	answers := make([]batchAnswer, len(batches))
	var g errgroup.Group
	g.SetLimit(c.workers)
	base := recallRequest{OpenConversationID: conversationID, RobotCode: c.robotCode}
	for _, opt := range opts {
		opt(&base)
	}
	for i, batch := range batches {
		g.Go(func() error {
			var out recallResponse
			req := base
			req.ProcessQueryKeys = batch
			err := c.call(ctx, api, req, &out, retryAll)
			answers[i] = batchAnswer{out: out, err: err} // each batch owns its slot; g.Wait orders the reads
			return nil
		})
	}
	_ = g.Wait() // the batches never return an error: failures are in their answers
	for i, batch := range batches {
		merge(res, batch, answers[i])
	}
	return res, nil
}

// batchAnswer is what one batch's call returned.
type batchAnswer struct {
	out recallResponse
	err error
}

// merge adds one batch's answer to res, so that each key of the batch lands
// in exactly one of res.Recalled and res.Failed.
func merge(res *RecallResult, batch []string, a batchAnswer) {
	if a.err != nil {
		f := batchFailure(a.err)
		for _, k := range batch {
			res.Failed[k] = f
		}
		return
	}
	out := a.out
	ok := make(map[string]bool, len(out.SuccessResult))
	for _, k := range out.SuccessResult {
		ok[k] = true
	}
	for _, k := range batch {
		switch reason, failed := out.FailedResult[k]; {
		case failed:
			res.Failed[k] = keyFailure(reason)
		case ok[k]:
			res.Recalled = append(res.Recalled, k)
		default:
			res.Failed[k] = Failure{Code: CodeNotAnswered, Message: ReasonNotAnswered}
		}
	}
}

// batchFailure is the failure recorded for every key of a batch that failed
// as a whole: the API error's code and message.
func batchFailure(err error) Failure {
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return Failure{Code: apiErr.Code, Message: apiErr.Message}
	}
	return Failure{Message: err.Error()}
}

// keyFailure is the failure of a key DingTalk refused on its own, from the
// words of its failedResult.
func keyFailure(reason string) Failure {
	switch {
	case reason == "":
		return Failure{Message: "failed without a reason"}
	case IsAlreadyRecalled(reason):
		return Failure{Code: CodeAlreadyRecalled, Message: reason}
	}
	return Failure{Message: reason}
}

// uniqueKeys drops repeated keys, keeping the first of each.
func uniqueKeys(keys []string) []string {
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
