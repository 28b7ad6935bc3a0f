package all_test

import (
	"path/filepath"
	"testing"

	"github.com/mdrsflow/mdrsflow/sdk"
	"github.com/mdrsflow/mdrsflow/sdk/plugintest"

	_ "github.com/mdrsflow/mdrsflow/plugins/all"
)

// TestContract holds every built-in plugin to the plugin contract; a new
// plugin is covered as soon as it is linked in.
func TestContract(t *testing.T) {
	dirs := map[sdk.Kind]string{sdk.KindInput: "inputs", sdk.KindFilter: "filters", sdk.KindOutput: "outputs"}
	for kind, sub := range dirs {
		for _, r := range sdk.Registered(kind) {
			t.Run(string(kind)+"/"+r.Name, func(t *testing.T) {
				plugintest.Contract(t, kind, r.Name, filepath.Join("..", sub, r.Name))
			})
		}
	}
}
