// Package all adds every built-in filter plugin to a binary: import it
// for its side effects.
package all

import (
	_ "github.com/mdrsflow/mdrsflow/plugins/filters/append"       // append
	_ "github.com/mdrsflow/mdrsflow/plugins/filters/collect"      // collect
	_ "github.com/mdrsflow/mdrsflow/plugins/filters/community_id" // community_id
	_ "github.com/mdrsflow/mdrsflow/plugins/filters/convert"      // convert
	_ "github.com/mdrsflow/mdrsflow/plugins/filters/copy"         // copy
	_ "github.com/mdrsflow/mdrsflow/plugins/filters/date"         // date
	_ "github.com/mdrsflow/mdrsflow/plugins/filters/dn"           // dn
	_ "github.com/mdrsflow/mdrsflow/plugins/filters/domain"       // domain
	_ "github.com/mdrsflow/mdrsflow/plugins/filters/drop"         // drop
	_ "github.com/mdrsflow/mdrsflow/plugins/filters/fail"         // fail
	_ "github.com/mdrsflow/mdrsflow/plugins/filters/lookup"       // lookup
	_ "github.com/mdrsflow/mdrsflow/plugins/filters/lowercase"    // lowercase
	_ "github.com/mdrsflow/mdrsflow/plugins/filters/nest"         // nest
	_ "github.com/mdrsflow/mdrsflow/plugins/filters/original"     // original
	_ "github.com/mdrsflow/mdrsflow/plugins/filters/parse_json"   // parse_json
	_ "github.com/mdrsflow/mdrsflow/plugins/filters/remove"       // remove
	_ "github.com/mdrsflow/mdrsflow/plugins/filters/rename"       // rename
	_ "github.com/mdrsflow/mdrsflow/plugins/filters/set"          // set
	_ "github.com/mdrsflow/mdrsflow/plugins/filters/split"        // split
	_ "github.com/mdrsflow/mdrsflow/plugins/filters/tenant"       // tenant
	_ "github.com/mdrsflow/mdrsflow/plugins/filters/uri_parts"    // uri_parts
	_ "github.com/mdrsflow/mdrsflow/plugins/filters/user_agent"   // user_agent
)
