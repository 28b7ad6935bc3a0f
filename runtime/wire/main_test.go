package wire

import (
	"os"
	"testing"
)

func TestMain(m *testing.M) {
	code := m.Run()
	RemoveSocketDir()
	os.Exit(code)
}
