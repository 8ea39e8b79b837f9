package sasl

import (
	"errors"
	"fmt"

	gosasl "github.com/emersion/go-sasl"
)

// exchange runs client against server the way go-smtp's client and server
// would carry it over SMTP, and returns the first error of either side. As
// in go-smtp, a challenge that comes with done is not passed on, and a nil
// response from the client ends the exchange without an answer.
func exchange(client gosasl.Client, server gosasl.Server) error {
	_, response, err := client.Start()
	if err != nil {
		return fmt.Errorf("client Start: %w", err)
	}
	for range 10 {
		challenge, done, err := server.Next(response)
		if err != nil {
			return fmt.Errorf("server: %w", err)
		}
		if done {
			return nil
		}
		response, err = client.Next(challenge)
		if err != nil {
			return fmt.Errorf("client Next: %w", err)
		}
		if response == nil {
			return errors.New("client answered a challenge with a nil response, which sends nothing")
		}
	}
	return errors.New("the exchange did not end after 10 rounds")
}

// finish calls the client's Finish method, if it has one.
func finish(client gosasl.Client) error {
	if f, ok := client.(Finisher); ok {
		return f.Finish()
	}
	return nil
}
