// Package all links every built-in plugin into a binary. A slimmer build
// imports only the plugin packages it needs instead.
package all

import (
	// Inputs.
	_ "github.com/mdrsflow/mdrsflow/plugins/inputs/file"
	_ "github.com/mdrsflow/mdrsflow/plugins/inputs/stdin"

	// Filters.
	_ "github.com/mdrsflow/mdrsflow/plugins/filters/all"

	// Outputs.
	_ "github.com/mdrsflow/mdrsflow/plugins/outputs/elasticsearch"
	_ "github.com/mdrsflow/mdrsflow/plugins/outputs/file"
	_ "github.com/mdrsflow/mdrsflow/plugins/outputs/stdout"
)
