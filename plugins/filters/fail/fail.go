// Package fail is the filter that fails an event on purpose, with a
// message: for conditions a flow detects itself, such as a record without
// a log type. The event goes to the failures target with the message in
// error.message.
package fail

import (
	_ "embed"
	"errors"
	"strings"

	"github.com/mdrsflow/mdrsflow/sdk"
)

//go:embed sample.yaml
var sample []byte

func init() {
	sdk.Register(sdk.Registration{
		Kind:    sdk.KindFilter,
		Name:    "fail",
		Summary: "fail the event with a message (use with if:)",
		New:     func() any { return &Fail{} },
		Sample:  sample,
	})
}

// Fail fails every event it sees with Message.
type Fail struct {
	// Message says why the event failed; it lands in error.message,
	// after the step's id and place in the flow.
	Message string `yaml:"message"`

	err error
}

// Validate requires a message.
func (f *Fail) Validate() error {
	if strings.TrimSpace(f.Message) == "" {
		return errors.New("message is required: say why the event fails, for the operator who reads error.message")
	}
	f.err = errors.New(f.Message)
	return nil
}

// Apply fails the event.
func (f *Fail) Apply(*sdk.Event) error { return f.err }

var _ sdk.Filter = (*Fail)(nil)
