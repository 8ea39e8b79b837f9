package smtpkit_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/smtpkit/smtpkit"
)

func ExampleNewMemoryModeCache() {
	modes := smtpkit.NewMemoryModeCache()
	modes.Put("smtp.example.com:587", smtpkit.SecurityStartTLS)
	fmt.Println(modes.Get("smtp.example.com:587"))
	modes.Forget("smtp.example.com:587")
	fmt.Println(modes.Get("smtp.example.com:587"))
	// Output:
	// starttls true
	// tls-auto false
}

func ExampleFileModeCache() {
	dir, err := os.MkdirTemp("", "smtpkit-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	// A program would use smtpkit.DefaultModeCachePath().
	path := filepath.Join(dir, "smtpkit", "modes.json")

	// One run of a program learns how two servers speak...
	run1 := smtpkit.NewFileModeCache(path)
	run1.Put("smtp.example.com:465", smtpkit.SecurityImplicitTLS)
	run1.Put("mail.example.net:587", smtpkit.SecurityStartTLS)

	// ...and the next run knows without probing.
	run2 := smtpkit.NewFileModeCache(path)
	mode, ok := run2.Get("smtp.example.com:465")
	fmt.Println(mode, ok)
	// Output: implicit-tls true
}

func ExampleFileModeCache_Keys() {
	dir, err := os.MkdirTemp("", "smtpkit-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	modes := smtpkit.NewFileModeCache(filepath.Join(dir, "modes.json"))
	modes.Put("mail.example.net:587", smtpkit.SecurityStartTLS)
	modes.Put("smtp.example.com:465", smtpkit.SecurityImplicitTLS)
	modes.Put("relay.example.org:25", smtpkit.SecurityNone)

	// What a command that shows and forgets entries does.
	modes.Forget("relay.example.org:25")
	for _, e := range modes.Keys() {
		fmt.Printf("%-22s %s\n", e.Key, e.Mode)
	}
	// Output:
	// mail.example.net:587   starttls
	// smtp.example.com:465   implicit-tls
}

func ExampleDefaultModeCachePath() {
	path := smtpkit.DefaultModeCachePath()
	// Empty means no home directory: the cache then lives in memory only.
	modes := smtpkit.NewFileModeCache(path)
	_ = modes
	fmt.Println(path == "" || strings.HasSuffix(filepath.ToSlash(path), "/smtpkit/modes.json"))
	// Output: true
}
