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

// RecallResult is the merged outcome of one recall: every key asked for is in
// exactly one of Recalled and Failed.
type RecallResult struct {
	// Recalled lists the recalled keys, in the order they were asked for.
	Recalled []string
	// Failed maps each key that was not recalled to its reason: DingTalk's
	// per-key reason, or "code: message" of the error that failed its batch.
	Failed map[string]string
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
	res := &RecallResult{Failed: make(map[string]string)}
	if len(keys) == 0 {
		return res, nil
	}
	batches := slices.Collect(slices.Chunk(keys, MaxKeysPerCall))
	answers := make([]recallResponse, len(batches))
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
			if err != nil {
				out = recallResponse{FailedResult: make(map[string]string, len(batch))}
				for _, k := range batch {
					out.FailedResult[k] = failureReason(err)
				}
			}
			answers[i] = out // each batch owns its slot; g.Wait orders the reads
			return nil
		})
	}
	_ = g.Wait() // the batches never return an error: failures are in their answers
	for i, batch := range batches {
		merge(res, batch, answers[i])
	}
	return res, nil
}

// merge adds one batch's answer to res, so that each key of the batch lands
// in exactly one of res.Recalled and res.Failed.
func merge(res *RecallResult, batch []string, out recallResponse) {
	ok := make(map[string]bool, len(out.SuccessResult))
	for _, k := range out.SuccessResult {
		ok[k] = true
	}
	for _, k := range batch {
		switch reason, failed := out.FailedResult[k]; {
		case failed:
			if reason == "" {
				reason = "failed without a reason"
			}
			res.Failed[k] = reason
		case ok[k]:
			res.Recalled = append(res.Recalled, k)
		default:
			res.Failed[k] = ReasonNotAnswered
		}
	}
}

// failureReason is the reason recorded for every key of a batch that failed
// as a whole.
func failureReason(err error) string {
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return apiErr.Reason()
	}
	return err.Error()
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
