package store

import "testing"

func TestHashStringEqualsHashOf(t *testing.T) {
	for _, s := range []string{"", "MSH|^~\\&|A\r", string(make([]byte, 10000))} {
		if HashString(s) != HashOf([]byte(s)) {
			t.Fatalf("hashes differ for %d bytes", len(s))
		}
	}
}
