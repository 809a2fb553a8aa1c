package dingtalk

import "strings"

// alreadyRecalledWordings are the failure reasons, lower-cased, that say a
// message had been recalled before. DingTalk's recall documents give
// failedResult as a map of key to free text, with no code and no list of
// wordings, so this list is an assumption: "already recalled" is the
// dingtalktest fake's wording (dingtalktest.ReasonAlreadyRecalled); the others
// are guesses at DingTalk's English and Chinese wording, not observed answers.
var alreadyRecalledWordings = []string{"already recalled", "has been recalled", "已撤回", "已被撤回"}

// IsAlreadyRecalled reports whether reason, a key's failure reason in
// RecallResult.Failed, says that the message had already been recalled, so
// that the key counts as recalled rather than as a failure.
//
// It is the one place that reads DingTalk's reason text: DingTalk gives no
// code for it, and the check rests on the wordings above. Where a wrong
// answer matters (a key leaving the ledger while its message is still in the
// chat), confirm it with StatusGroup, StatusPrivate or StatusOTO, whose
// sendStatus RECALLED is documented.
func IsAlreadyRecalled(reason string) bool {
	lower := strings.ToLower(reason)
	for _, w := range alreadyRecalledWordings {
		if strings.Contains(lower, w) {
			return true
		}
	}
	return false
}
