// Package emutest holds the test support every package's tests of the
// emulated world share: the goroutine-leak check and the test logger. Only
// _test.go files import it; it imports nothing of this module.
package emutest
