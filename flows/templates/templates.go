// Package templates holds the Elasticsearch index templates of the shipped
// layouts, as the JSON bodies of Elasticsearch's component and index
// template APIs, and embeds them so that the elasticsearch output can
// install them (manage_templates: true).
//
//	index/mdrsflow-logs-corelight.json   logs-corelight.*-*   Corelight's ECS layout
//	index/mdrsflow-zeek-corelight.json   zeek-corelight.*-*   its metric logs
//	index/mdrsflow-logs-zeek.json        logs-zeek.*-*        Elastic's Zeek layout
//
// Each index template makes its targets data streams and is composed of,
// in order: Elastic's logs@settings when the cluster has it (lifecycle
// policy), mdrsflow@settings, mdrsflow-ecs@mappings (every ECS field the
// layouts use, named with its ECS type: ip, long, date, keyword, wildcard,
// match_only_text), the layout's own component for its non-ECS fields
// whose type a catch-all would get wrong (durations as double, addresses
// as ip, times as date), mdrsflow-dynamic@mappings (the catch-alls: text
// as keyword, numbers as long or double; last, so every named rule comes
// first), and the @custom hooks an operator may create.
//
// Index templates have priority 150: above Elasticsearch's built-in logs
// template (100), below the templates Fleet installs for its own Zeek
// integration (200), which then win for their data streams.
//
// TestTemplatesCoverDocuments checks every leaf field of the shipped
// flows' expected documents and of real output against these mappings.
package templates

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"strings"
)

//go:embed component/*.json index/*.json
var files embed.FS

// Kind says which API a template goes to.
type Kind string

// The kinds of template.
const (
	// Component templates go to PUT _component_template/<name>.
	Component Kind = "component"
	// Index templates go to PUT _index_template/<name>.
	Index Kind = "index"
)

// Template is one template: its kind, its name and its JSON body.
type Template struct {
	Kind Kind
	Name string
	Body []byte
}

// All returns every template, component templates first (an index
// template must find the components it names), each kind sorted by name.
func All() []Template {
	var out []Template
	for _, k := range []Kind{Component, Index} {
		entries, err := fs.ReadDir(files, string(k))
		if err != nil {
			panic(fmt.Sprintf("templates: embedded folder %s: %v", k, err))
		}
		for _, e := range entries {
			b, err := files.ReadFile(path.Join(string(k), e.Name()))
			if err != nil {
				panic(fmt.Sprintf("templates: embedded file %s: %v", e.Name(), err))
			}
			out = append(out, Template{Kind: k, Name: strings.TrimSuffix(e.Name(), ".json"),
				Body: b})
		}
	}
	return out
}
