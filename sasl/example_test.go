package sasl_test

import (
	"errors"
	"fmt"

	"github.com/smtpkit/smtpkit/sasl"
)

// A server that refuses an OAuth token says why in a JSON challenge; after
// its 535 reply, the client's Finish method returns the refusal.
func ExampleFinisher() {
	client, err := sasl.NewXOAUTH2Client("alice@example.com", "ya29.expired")
	if err != nil {
		panic(err)
	}
	// What smtp.Client.Auth does with a server that refuses the token:
	client.Start()
	response, _ := client.Next([]byte(`{"status":"401","schemes":"Bearer","scope":"https://mail.google.com/"}`))
	fmt.Printf("response to the refusal: %q\n", response)

	err = client.(sasl.Finisher).Finish()
	var refusal *sasl.OAuthError
	if errors.As(err, &refusal) {
		fmt.Println("status:", refusal.Status, "scope:", refusal.Scope)
	}
	// Output:
	// response to the refusal: ""
	// status: 401 scope: https://mail.google.com/
}

// Printing a client shows its mechanism and user, never its secret.
func ExampleNewPlainClient() {
	client, err := sasl.NewPlainClient("", "alice", "correct horse battery staple")
	if err != nil {
		panic(err)
	}
	fmt.Printf("%+v\n", client)

	_, err = sasl.NewPlainClient("", "alice", "")
	fmt.Println(err)
	// Output:
	// sasl PLAIN client for "alice"
	// sasl: invalid credentials: PLAIN needs a password, and it is empty: give the account's password
}
