package sandbox

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/sirupsen/logrus"
)

// AlertRoute is the Alertmanager route the page's sample alert goes to.
type AlertRoute struct {
	// Name is the route's name: the page posts to /alertmanager/<Name>.
	Name string
	// ConversationID is the route's chat, where the page shows the buttons.
	ConversationID string
}

// maxSampleAlerts is how many sample alerts fire at most at once.
const maxSampleAlerts = 5

// sampleGroupKey is the group key of the sample alerts.
const sampleGroupKey = `{}:{alertname="DiskFull"}`

// sampleAlert is one firing sample alert: a disk filling up on instance.
type sampleAlert struct {
	Instance string
	Since    time.Time
}

// alertRequest is the body of POST /sandbox/api/alert.
type alertRequest struct {
	// Action is "fire" (one more instance's disk fills up) or "resolve"
	// (every sample alert resolves).
	Action string `json:"action"`
}

// alertResponse is the answer of POST /sandbox/api/alert.
type alertResponse struct {
	// Firing is how many sample alerts fire after the request.
	Firing int `json:"firing"`
	// Status is the HTTP status /alertmanager/<route> answered with; Result
	// its answer (what was posted and recalled).
	Status int             `json:"status"`
	Result json.RawMessage `json:"result"`
}

// alertPost answers POST /sandbox/api/alert: it builds the notification
// Alertmanager would send for the sample alert group and posts it to the
// app's /alertmanager/<route> with the API token, which stays on the
// server.
func (s *sim) alertPost(c *gin.Context) {
	var req alertRequest
	if err := decode(c, &req); err != nil {
		fail(c, err)
		return
	}
	now := s.now()
	s.mu.Lock()
	var alerts []sampleAlert
	resolved := false
	switch req.Action {
	case "fire":
		if len(s.alerts) < maxSampleAlerts {
			s.alerts = append(s.alerts, sampleAlert{Instance: fmt.Sprintf("db-%d", len(s.alerts)+1), Since: now})
		}
		alerts = append(alerts, s.alerts...)
	case "resolve":
		alerts, s.alerts, resolved = s.alerts, nil, true
	default:
		s.mu.Unlock()
		fail(c, badRequest("action", "want fire or resolve, got %q", req.Action))
		return
	}
	firing := len(s.alerts)
	s.mu.Unlock()
	if len(alerts) == 0 {
		fail(c, badRequest("action", "no sample alert fires: fire one first"))
		return
	}
	body, _ := json.Marshal(notification(alerts, resolved, now)) // strings, maps and times: cannot fail
	h := http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer " + s.d.APIToken}}
	var result json.RawMessage
	status, errText, err := s.exchange(c.Request.Context(), "/alertmanager/"+s.d.Alerts.Name, h, body, func(raw []byte) { result = raw })
	if err != nil {
		fail(c, &reqError{status: http.StatusBadGateway, code: "unreachable", message: "the app's Alertmanager receiver could not be reached: " + err.Error()})
		return
	}
	if status/100 != 2 {
		fail(c, &reqError{status: status, code: "receiver_refused", message: fmt.Sprintf("/alertmanager/%s answered %d: %s", s.d.Alerts.Name, status, errText)})
		return
	}
	s.d.Log.WithFields(logrus.Fields{"action": req.Action, "firing": firing}).Debug("sandbox: posted a sample alert notification")
	c.JSON(http.StatusOK, alertResponse{Firing: firing, Status: status, Result: result})
}

// notification is Alertmanager's webhook payload (version 4) for the
// sample alerts, firing or all resolved at now.
func notification(alerts []sampleAlert, resolved bool, now time.Time) map[string]any {
	status := "firing"
	if resolved {
		status = "resolved"
	}
	list := make([]map[string]any, 0, len(alerts))
	for _, a := range alerts {
		labels := map[string]string{"alertname": "DiskFull", "instance": a.Instance, "severity": "warning"}
		sum := sha256.Sum256([]byte(a.Instance))
		item := map[string]any{
			"status": status, "labels": labels,
			"annotations":  map[string]string{"summary": "disk 91% full on " + a.Instance},
			"startsAt":     a.Since.UTC().Format(time.RFC3339Nano),
			"endsAt":       "0001-01-01T00:00:00Z",
			"generatorURL": "",
			"fingerprint":  hex.EncodeToString(sum[:8]),
		}
		if resolved {
			item["endsAt"] = now.UTC().Format(time.RFC3339Nano)
		}
		list = append(list, item)
	}
	return map[string]any{
		"version": "4", "groupKey": sampleGroupKey, "truncatedAlerts": 0, "status": status, "receiver": "sandbox",
		"groupLabels": map[string]string{"alertname": "DiskFull"}, "commonLabels": map[string]string{"alertname": "DiskFull", "severity": "warning"},
		"commonAnnotations": map[string]string{}, "externalURL": "", "alerts": list,
	}
}
