package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/apptbridge/apptbridge/conformance"
)

func cmdConformance(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("conformance", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	corpus := conformance.Corpus()
	if fs.NArg() > 0 {
		corpus = os.DirFS(fs.Arg(0))
	}
	results, err := conformance.Run(corpus)
	if err != nil {
		fmt.Fprintf(stderr, "apptbridge conformance: %v\n", err)
		return 2
	}
	return conformance.PrintTable(stdout, results)
}
