package main

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/apptbridge/apptbridge/auth"
)

// cmdHashPassword reads a password from the first line of stdin and prints
// its argon2id hash, for APPLICATION_PASSWORD_HASH (so the password itself
// need not sit in the environment).
func cmdHashPassword(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) != 0 {
		fmt.Fprintln(stderr, "usage: apptbridge hash-password < file-with-the-password")
		return 2
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && err != io.EOF {
		fmt.Fprintf(stderr, "apptbridge hash-password: read stdin: %v\n", err)
		return 1
	}
	pw := strings.TrimRight(line, "\r\n")
	if len(pw) < 12 {
		fmt.Fprintln(stderr, "apptbridge hash-password: the password must be at least 12 characters")
		return 1
	}
	h, err := auth.HashPassword(pw)
	if err != nil {
		fmt.Fprintf(stderr, "apptbridge hash-password: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, h)
	return 0
}
