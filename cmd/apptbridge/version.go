package main

import (
	"fmt"
	"io"
	"runtime"
)

func cmdVersion(stdout io.Writer) int {
	fmt.Fprintf(stdout, "apptbridge %s (commit %s, %s %s/%s)\n", version, commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return 0
}
