package controllers

// maxEventNote is the events.k8s.io/v1 limit on an event's note; denials listing many
// policies are cut to fit, the condition keeps the whole message.
const maxEventNote = 1024

// truncate cuts an event note to the limit the API server enforces, so the event is recorded
// rather than refused.
func truncate(s string) string {
	if len(s) <= maxEventNote {
		return s
	}
	return s[:maxEventNote-3] + "..."
}
