package app

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/dingrecall/dingrecall/metrics"
	"github.com/dingrecall/dingrecall/quota"
)

func TestQuotaObserverMarksTheQuotaSpent(t *testing.T) {
	// No monthlyQuota set: only DingTalk's own refusal can stop the
	// optional calls.
	gov := quota.New(quota.Config{Bot: "alerts", Now: func() time.Time { return time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC) }})
	o := quotaObserver{metrics.New().Bot("alerts"), gov}
	assert.False(t, gov.Exhausted())
	o.QuotaRefused("/v1.0/robot/groupMessages/recall")
	assert.True(t, gov.Exhausted())
}
