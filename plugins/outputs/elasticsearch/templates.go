package elasticsearch

import (
	"bytes"
	"context"
	"fmt"
	"net/http"

	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/mdrsflow/mdrsflow/flows/templates"
)

// installTemplates puts the component and index templates of
// flows/templates into cluster c, once per cluster and start, before the
// first event goes there: a data stream takes its mappings from the
// template in force when it is created, so writing first would leave the
// wrong types in place until the next rollover. It returns why it could
// not, "" once it did; the caller then reports the cluster's events Retry.
//
// Templates are written whether or not they exist (PUT is idempotent), so
// a new mdrsflow version brings its templates along; changes apply to new
// backing indices, that is after the next rollover.
func (e *Elasticsearch) installTemplates(ctx context.Context, c *cluster) string {
	ctx, cancel := context.WithTimeout(ctx, e.Timeout)
	defer cancel()
	for _, t := range templates.All() {
		var (
			res *esapi.Response
			err error
			api string
		)
		switch t.Kind {
		case templates.Component:
			api = "_component_template/" + t.Name
			res, err = c.client.Cluster.PutComponentTemplate(t.Name, bytes.NewReader(t.Body),
				c.client.Cluster.PutComponentTemplate.WithContext(ctx))
		default:
			api = "_index_template/" + t.Name
			res, err = c.client.Indices.PutIndexTemplate(t.Name, bytes.NewReader(t.Body),
				c.client.Indices.PutIndexTemplate.WithContext(ctx))
		}
		if err != nil {
			reason := fmt.Sprintf("index templates not installed yet (manage_templates), "+
				"events wait: PUT %s failed: %v", api, err)
			c.setHealth(false, reason)
			e.log.Warn("index templates not installed; events wait", "cluster", c.label,
				"template", t.Name, "err", err)
			return reason
		}
		body := readSmall(res.Body)
		res.Body.Close()
		if res.IsError() {
			reason := "index templates not installed yet (manage_templates), events wait: " +
				requestReason("PUT "+api, res.StatusCode, body)
			if res.StatusCode == http.StatusForbidden {
				reason += "; installing templates needs the manage_index_templates cluster " +
					"privilege: grant it, or install flows/templates by hand and set " +
					"manage_templates: false"
			}
			c.setHealth(true, reason)
			e.log.Warn("index templates not installed; events wait", "cluster", c.label,
				"template", t.Name, "status", res.StatusCode, "err", reason)
			return reason
		}
	}
	c.mu.Lock()
	c.templates = true
	c.mu.Unlock()
	e.log.Info("index templates installed", "cluster", c.label,
		"templates", len(templates.All()))
	return ""
}
