package smtpkit

// ForgetModes clears the modes Auto remembered, so each test probes afresh.
func ForgetModes() {
	knownModes.mu.Lock()
	defer knownModes.mu.Unlock()
	clear(knownModes.m)
}
