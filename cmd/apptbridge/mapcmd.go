package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/apptbridge/apptbridge/app"
	"github.com/apptbridge/apptbridge/hl7"
	"github.com/apptbridge/apptbridge/ingest"
)

func cmdMap(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("map", flag.ContinueOnError)
	fs.SetOutput(stderr)
	tz := fs.String("tz", os.Getenv("DEFAULT_TIMEZONE"), "IANA zone for times without offset (DEFAULT_TIMEZONE)")
	country := fs.String("country", os.Getenv("DEFAULT_COUNTRY"), "country for phone numbers (DEFAULT_COUNTRY)")
	profile := fs.String("profile", os.Getenv("MAPPING_PROFILE"), "mapping profile file (MAPPING_PROFILE)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg, _ := app.Load(func(k string) string {
		switch k {
		case "DEFAULT_TIMEZONE":
			return *tz
		case "DEFAULT_COUNTRY":
			return *country
		case "MAPPING_PROFILE":
			return *profile
		}
		return os.Getenv(k)
	})
	mapper, err := app.NewMapper(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "apptbridge map: %v\n", err)
		return 2
	}
	parse := hl7.ParseOptions{DefaultCharset: cfg.HL7Charset}
	var inputs [][]byte
	if fs.NArg() == 0 {
		b, err := io.ReadAll(stdin)
		if err != nil {
			fmt.Fprintf(stderr, "apptbridge map: read stdin: %v\n", err)
			return 2
		}
		inputs = append(inputs, b)
	}
	for _, name := range fs.Args() {
		b, err := os.ReadFile(name)
		if err != nil {
			fmt.Fprintf(stderr, "apptbridge map: %v\n", err)
			return 2
		}
		inputs = append(inputs, b)
	}
	failed := false
	for _, in := range inputs {
		lines, _, ok := ingest.DescribeInput(mapper, parse, in)
		for _, l := range lines {
			stdout.Write(l)
		}
		failed = failed || !ok
	}
	if failed {
		return 1
	}
	return 0
}
