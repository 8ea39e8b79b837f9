//go:build race

package main

// raceEnabled says the tests run with the race detector, and so is the binary they build.
const raceEnabled = true
