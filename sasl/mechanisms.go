package sasl

// The names of the mechanisms this package implements, as SMTP servers
// advertise them.
const (
	// Plain is the PLAIN mechanism (RFC 4616).
	Plain = "PLAIN"
	// Login is the obsolete but common LOGIN mechanism
	// (draft-murchison-sasl-login).
	Login = "LOGIN"
	// CRAMMD5 is the CRAM-MD5 mechanism (RFC 2195).
	CRAMMD5 = "CRAM-MD5"
	// XOAUTH2 is the OAuth 2.0 mechanism of Google and Microsoft.
	XOAUTH2 = "XOAUTH2"
	// OAUTHBEARER is the OAuth 2.0 bearer token mechanism (RFC 7628).
	OAUTHBEARER = "OAUTHBEARER"
	// SCRAMSHA1 is SCRAM with SHA-1 (RFC 5802).
	SCRAMSHA1 = "SCRAM-SHA-1"
	// SCRAMSHA1Plus is SCRAM with SHA-1 and TLS channel binding (RFC 5802).
	SCRAMSHA1Plus = "SCRAM-SHA-1-PLUS"
	// SCRAMSHA256 is SCRAM with SHA-256 (RFC 7677).
	SCRAMSHA256 = "SCRAM-SHA-256"
	// SCRAMSHA256Plus is SCRAM with SHA-256 and TLS channel binding (RFC 7677).
	SCRAMSHA256Plus = "SCRAM-SHA-256-PLUS"
	// SCRAMSHA512 is SCRAM with SHA-512.
	SCRAMSHA512 = "SCRAM-SHA-512"
	// SCRAMSHA512Plus is SCRAM with SHA-512 and TLS channel binding.
	SCRAMSHA512Plus = "SCRAM-SHA-512-PLUS"
	// External is the EXTERNAL mechanism (RFC 4422), which relies on
	// credentials from outside SASL, such as a TLS client certificate.
	External = "EXTERNAL"
	// Anonymous is the ANONYMOUS mechanism (RFC 4505).
	Anonymous = "ANONYMOUS"
	// NTLM is Microsoft's NTLM mechanism for SMTP (MS-SMTPNTLM), answered
	// with NTLMv2.
	NTLM = "NTLM"
)

// Mechanisms returns the names of all the mechanisms this package
// implements, in a new slice.
func Mechanisms() []string {
	return []string{
		Plain, Login, CRAMMD5, XOAUTH2, OAUTHBEARER,
		SCRAMSHA1, SCRAMSHA1Plus, SCRAMSHA256, SCRAMSHA256Plus, SCRAMSHA512, SCRAMSHA512Plus,
		External, Anonymous, NTLM,
	}
}
