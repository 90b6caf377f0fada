package cli

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/client"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func (a *app) webhooksCommand() *cobra.Command {
	c := &cobra.Command{
		Use:     "webhooks",
		Aliases: []string{"webhook"},
		Short:   "Subscribe URLs to events: create, list, test, read deliveries, redeliver",
		Long: `A webhook subscription POSTs every event that passes its filter to a URL,
in sequence order, signed with HMAC-SHA256 (Standard Webhooks headers
webhook-id, webhook-timestamp, webhook-signature). Failed deliveries are
retried with backoff, then dead-lettered; every attempt is recorded. See
docs/webhooks.md.`,
		Args: noSubcommand,
		RunE: showHelp,
	}
	c.AddCommand(a.webhooksCreateCommand(), a.webhooksListCommand(), a.webhooksShowCommand(),
		a.webhooksUpdateCommand(), a.webhooksDeleteCommand(), a.webhooksTestCommand(),
		a.webhooksDeliveriesCommand(), a.webhooksRedeliverCommand())
	return c
}

// readTemplate reads a payload template from a file ("-": stdin).
func (a *app) readTemplate(file string) ([]byte, error) {
	var b []byte
	var err error
	if file == "-" {
		b, err = readAllLimited(a.env.Stdin, cairn.MaxWebhookTemplate)
	} else {
		b, err = readFileLimited(a.path(file), cairn.MaxWebhookTemplate)
	}
	if err != nil {
		return nil, fmt.Errorf("read template: %w", err)
	}
	return b, nil
}

// readSecret reads a signing secret from a file ("-": stdin), so that it
// never shows in a process list or shell history.
func (a *app) readSecret(file string) (string, error) {
	const limit = 1 << 10
	var b []byte
	var err error
	if file == "-" {
		b, err = readAllLimited(a.env.Stdin, limit)
	} else {
		b, err = readFileLimited(a.path(file), limit)
	}
	if err != nil {
		return "", fmt.Errorf("read secret: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// headerFlags are --header and --header-file: custom request headers,
// "Name: value" each, on the command line or a line each in a file.
type headerFlags struct {
	headers []string
	file    string
}

func (h *headerFlags) add(c *cobra.Command, verb string) {
	c.Flags().StringArrayVar(&h.headers, "header", nil, "'Name: value': "+verb+" a request header sent with every delivery (repeatable); the value is kept secret")
	c.Flags().StringVar(&h.file, "header-file", "", "read 'Name: value' headers from this file, one a line (- for stdin), so that tokens stay out of the command line")
}

// parse returns the headers given, nil for none; a usage error for a
// line that is not "Name: value".
func (h *headerFlags) parse(a *app, c *cobra.Command) (map[string]string, error) {
	lines := slices.Clone(h.headers)
	if h.file != "" {
		var b []byte
		var err error
		if h.file == "-" {
			b, err = readAllLimited(a.env.Stdin, 64<<10)
		} else {
			b, err = readFileLimited(a.path(h.file), 64<<10)
		}
		if err != nil {
			return nil, fmt.Errorf("read --header-file: %w", err)
		}
		for _, l := range strings.Split(string(b), "\n") {
			if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
				lines = append(lines, l)
			}
		}
	}
	if len(lines) == 0 {
		return nil, nil
	}
	out := map[string]string{}
	for _, l := range lines {
		name, value, ok := strings.Cut(l, ":")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !ok || name == "" {
			// Never echo the line: it may hold a token.
			return nil, usageErr(c, "a header is 'Name: value', such as 'Authorization: Bearer TOKEN'; got one without a name and a colon")
		}
		if _, dup := out[name]; dup {
			return nil, usageErr(c, "header %s is given twice", name)
		}
		out[name] = value
	}
	return out, nil
}

func (a *app) webhooksCreateCommand() *cobra.Command {
	var in client.WebhookCreate
	var secretFile, templateFile string
	var inactive bool
	var hf headerFlags
	c := &cobra.Command{
		Use:   "create URL",
		Short: "Subscribe a URL to events; prints the signing secret, this once",
		Long: `Subscribe a URL to events. Without filters it receives every event; --event
takes globs (alias.*, version.ready; repeatable), --model a model-name glob
(churn-*), --alias an alias name. The signing secret is generated unless
--secret-file gives one (whsec_ and the base64 of 24 to 64 random bytes);
the server shows it in this answer and never again.

--template FILE posts a JSON document of your own instead of the standard
body, with {{type}}, {{model}}, {{payload.version}}… filled in per event
(for a chat webhook or a CI dispatch endpoint; see docs/webhooks.md).
--format mlflow sends MLflow 3's payloads and X-MLflow-* headers instead;
--event then takes MLflow event names (model_version.created, …), --name is
required and the secret, any string, is optional.

--header 'Name: value' (or --header-file, which keeps tokens out of the
command line and the shell history) adds a request header to every
delivery, such as the Authorization and Accept that GitHub's
repository_dispatch wants. Header values are kept like the secret: the
server shows only their names. Transport headers (Host, Content-Length,
Transfer-Encoding, Connection, …) and the signature headers (webhook-id,
webhook-timestamp, webhook-signature, X-MLflow-Signature, …) cannot be set.`,
		Example: `  cairn webhooks create https://ci.example.com/cairn --model churn --event alias.set
  cairn webhooks create https://api.github.com/repos/acme/ml/dispatches --event alias.set \
    --template dispatch.json --header-file github-headers.txt`,
		Args: exactArgs("URL"),
		RunE: func(c *cobra.Command, args []string) error {
			in.URL = args[0]
			h, err := hf.parse(a, c)
			if err != nil {
				return err
			}
			in.Headers = h
			if templateFile != "" {
				t, err := a.readTemplate(templateFile)
				if err != nil {
					return err
				}
				in.Template = t
			}
			if secretFile != "" {
				s, err := a.readSecret(secretFile)
				if err != nil {
					return err
				}
				in.Secret = s
			}
			if inactive {
				in.Active = new(false)
			}
			cl, err := a.client(c)
			if err != nil {
				return err
			}
			w, err := cl.CreateWebhook(c.Context(), in)
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(w)
			}
			a.infof("created webhook %s; store its secret now: it is not shown again", w.ID)
			return a.printWebhook(&w.Webhook, w.Secret)
		},
	}
	c.Flags().StringArrayVar(&in.EventTypes, "event", nil, "only events whose type matches this glob, such as alias.* (repeatable)")
	c.Flags().StringVar(&in.Model, "model", "", "only events about models whose name matches this glob")
	c.Flags().StringVar(&in.Alias, "alias", "", "only events about this alias")
	c.Flags().StringVar(&in.Description, "description", "", "what the subscription is for")
	c.Flags().StringVar(&secretFile, "secret-file", "", "read the signing secret from this file (- for stdin) instead of generating one")
	c.Flags().BoolVar(&inactive, "inactive", false, "create it paused")
	c.Flags().StringVar(&in.Name, "name", "", "a name for the subscription (required with --format mlflow)")
	c.Flags().StringVar(&in.Format, "format", "", "delivery format: standard (default) or mlflow")
	c.Flags().StringVar(&templateFile, "template", "", "read a JSON payload template from this file (- for stdin)")
	hf.add(c, "add")
	return c
}

func (a *app) printWebhook(w *cairn.Webhook, secret string) error {
	f := newFields(a.stdout())
	f.add("id", w.ID)
	f.add("name", w.Name)
	f.add("url", w.URL)
	f.add("format", w.Format)
	if secret != "" {
		f.add("secret", secret)
	}
	f.add("events", eventTypes(w.Types))
	f.add("model", w.Model)
	f.add("alias", w.Alias)
	f.add("description", w.Description)
	if len(w.Template) > 0 {
		f.add("template", string(w.Template))
	}
	if len(w.HeaderNames) > 0 {
		f.add("headers", strings.Join(w.HeaderNames, ", ")+" (values hidden)")
	}
	f.add("active", yesNo(w.Active))
	f.add("created by", w.CreatedBy)
	f.add("created", formatTime(w.CreatedAt))
	f.add("updated", formatTime(w.UpdatedAt))
	return f.flush()
}

func eventTypes(ts []string) string {
	if len(ts) == 0 {
		return "*"
	}
	return strings.Join(ts, ",")
}

func (a *app) webhooksListCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List webhook subscriptions",
		Args:  exactArgs(),
		RunE: func(c *cobra.Command, _ []string) error {
			cl, err := a.client(c)
			if err != nil {
				return err
			}
			ws, err := cl.ListWebhooks(c.Context())
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(map[string]any{"items": nonNilSlice(ws)})
			}
			t := newTable(a.stdout(), "ID", "URL", "EVENTS", "MODEL", "ALIAS", "ACTIVE")
			for _, w := range ws {
				t.row(w.ID, w.URL, eventTypes(w.Types), w.Model, w.Alias, yesNo(w.Active))
			}
			return t.flush()
		},
	}
}

func (a *app) webhooksShowCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "show ID",
		Short: "Show a webhook subscription (never its secret)",
		Args:  exactArgs("ID"),
		RunE: func(c *cobra.Command, args []string) error {
			cl, err := a.client(c)
			if err != nil {
				return err
			}
			w, err := cl.GetWebhook(c.Context(), args[0])
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(w)
			}
			if err := a.printWebhook(&w.Webhook, ""); err != nil {
				return err
			}
			f := newFields(a.stdout())
			f.add("delivered up to", "event "+itoa(w.Delivery.Cursor))
			if w.Delivery.HeadSeq != 0 {
				f.add("retrying", fmt.Sprintf("event %d, %d attempt%s since %s, next at %s", w.Delivery.HeadSeq,
					w.Delivery.Attempts, plural(w.Delivery.Attempts), formatTime(w.Delivery.FirstAttempt), formatTime(w.Delivery.NextAttempt)))
			}
			return f.flush()
		},
	}
}

func (a *app) webhooksUpdateCommand() *cobra.Command {
	var (
		url, model, alias, description, secretFile string
		name, templateFile                         string
		events, deleteHeaders                      []string
		active, rotate, noTemplate                 bool
		hf                                         headerFlags
	)
	c := &cobra.Command{
		Use:   "update ID",
		Short: "Change a subscription's URL, filter, headers, secret or active flag",
		Long: `Change a subscription; only the flags given change. --event replaces the
list of event type globs (--event '' clears it: every event). --active=false
pauses delivery: the subscription keeps its place in the feed and catches up
once active again. --rotate-secret generates a new secret and prints it.
--header 'Name: value' (or --header-file) adds a header or replaces the one
of that name (a token rotated); --delete-header NAME removes one.`,
		Args: exactArgs("ID"),
		RunE: func(c *cobra.Command, args []string) error {
			var in client.WebhookUpdate
			fs := c.Flags()
			h, err := hf.parse(a, c)
			if err != nil {
				return err
			}
			in.SetHeaders, in.DeleteHeaders = h, deleteHeaders
			if fs.Changed("name") {
				in.Name = &name
			}
			switch {
			case noTemplate && templateFile != "":
				return usageErr(c, "give --template or --no-template, not both")
			case noTemplate:
				in.Template = []byte("null")
			case templateFile != "":
				t, err := a.readTemplate(templateFile)
				if err != nil {
					return err
				}
				in.Template = t
			}
			if fs.Changed("webhook-url") {
				in.URL = &url
			}
			if fs.Changed("model") {
				in.Model = &model
			}
			if fs.Changed("alias") {
				in.Alias = &alias
			}
			if fs.Changed("description") {
				in.Description = &description
			}
			if fs.Changed("active") {
				in.Active = &active
			}
			if fs.Changed("event") {
				ts := []string{}
				for _, e := range events {
					if e != "" {
						ts = append(ts, e)
					}
				}
				in.EventTypes = &ts
			}
			var secret string
			switch {
			case rotate && secretFile != "":
				return usageErr(c, "give --rotate-secret or --secret-file, not both")
			case rotate:
				secret = cairn.NewWebhookSecret()
			case secretFile != "":
				s, err := a.readSecret(secretFile)
				if err != nil {
					return err
				}
				secret = s
			}
			if secret != "" {
				in.Secret = &secret
			}
			if !changedAny(fs, "name", "webhook-url", "model", "alias", "description", "active", "event") && in.Template == nil && in.Secret == nil &&
				len(in.SetHeaders) == 0 && len(in.DeleteHeaders) == 0 {
				return usageErr(c, "nothing to change: give --name, --webhook-url, --event, --model, --alias, --description, --template, --no-template, --header, --header-file, --delete-header, --active, --secret-file or --rotate-secret")
			}
			cl, err := a.client(c)
			if err != nil {
				return err
			}
			w, err := cl.UpdateWebhook(c.Context(), args[0], in)
			if err != nil {
				return err
			}
			if a.json {
				if rotate {
					return a.printJSON(client.WebhookCreated{Webhook: *w, Secret: secret})
				}
				return a.printJSON(w)
			}
			if !rotate {
				secret = ""
			}
			return a.printWebhook(w, secret)
		},
	}
	// Not --url: that names the Cairn server.
	c.Flags().StringVar(&url, "webhook-url", "", "new URL to deliver to")
	c.Flags().StringArrayVar(&events, "event", nil, "event type glob (repeatable; replaces the list)")
	c.Flags().StringVar(&model, "model", "", "model-name glob ('' for every model)")
	c.Flags().StringVar(&alias, "alias", "", "alias name ('' for any)")
	c.Flags().StringVar(&description, "description", "", "what the subscription is for")
	c.Flags().BoolVar(&active, "active", true, "deliver (true) or pause (false)")
	c.Flags().StringVar(&secretFile, "secret-file", "", "read a new signing secret from this file (- for stdin)")
	c.Flags().BoolVar(&rotate, "rotate-secret", false, "generate a new signing secret and print it")
	c.Flags().StringVar(&name, "name", "", "new name")
	c.Flags().StringVar(&templateFile, "template", "", "read a new JSON payload template from this file (- for stdin)")
	c.Flags().BoolVar(&noTemplate, "no-template", false, "remove the payload template: deliver the standard body")
	hf.add(c, "add or replace")
	c.Flags().StringArrayVar(&deleteHeaders, "delete-header", nil, "remove the request header of this name (repeatable)")
	return c
}

// changedAny reports whether any of the named flags was given.
func changedAny(fs *pflag.FlagSet, names ...string) bool {
	for _, n := range names {
		if fs.Changed(n) {
			return true
		}
	}
	return false
}

func (a *app) webhooksDeleteCommand() *cobra.Command {
	return a.deleteCommand("delete ID", "Delete a subscription with its delivery log and dead letters",
		func(ctx context.Context, cl *client.Client, id string) error { return cl.DeleteWebhook(ctx, id) },
		"deleted webhook %s")
}

func (a *app) webhooksTestCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "test ID",
		Short: "Send a signed webhook.test ping now and show the receiver's answer",
		Long: `Send a signed webhook.test ping to the subscription now, outside the event
sequence, and show the attempt: status, latency, the start of the answer, or
the error. Exits 1 unless the receiver answered 2xx.`,
		Args: exactArgs("ID"),
		RunE: func(c *cobra.Command, args []string) error {
			cl, err := a.client(c)
			if err != nil {
				return err
			}
			d, err := cl.TestWebhook(c.Context(), args[0])
			if err != nil {
				return err
			}
			if a.json {
				err = a.printJSON(d)
			} else {
				f := newFields(a.stdout())
				f.add("status", statusText(d))
				f.add("latency", strconv.FormatInt(d.LatencyMS, 10)+" ms")
				f.add("response", d.Response)
				err = f.flush()
			}
			if err != nil {
				return err
			}
			if d.StatusCode < 200 || d.StatusCode > 299 {
				return withHint(fmt.Errorf("test delivery failed: %s", statusText(d)),
					"cairn serve refuses private addresses unless allowed: --webhook-allow-cidr")
			}
			return nil
		},
	}
}

func statusText(d *cairn.Delivery) string {
	switch {
	case d.Error != "" && d.StatusCode != 0:
		return fmt.Sprintf("%d (%s)", d.StatusCode, d.Error)
	case d.Error != "":
		return d.Error
	}
	return strconv.Itoa(d.StatusCode)
}

func (a *app) webhooksDeliveriesCommand() *cobra.Command {
	var before int64
	var limit int
	var dead bool
	var status string
	c := &cobra.Command{
		Use:   "deliveries ID",
		Short: "List delivery attempts, newest first, or the dead letters (--dead)",
		Args:  exactArgs("ID"),
		RunE: func(c *cobra.Command, args []string) error {
			if before < 0 || limit < 0 {
				return usageErr(c, "--before and --limit must not be negative")
			}
			if status != "" && !dead {
				return usageErr(c, "--status applies to --dead")
			}
			cl, err := a.client(c)
			if err != nil {
				return err
			}
			if dead {
				dls, err := cl.ListDeadLetters(c.Context(), args[0], status, limit)
				if err != nil {
					return err
				}
				if a.json {
					return a.printJSON(map[string]any{"items": nonNilSlice(dls)})
				}
				t := newTable(a.stdout(), "SEQ", "TYPE", "STATUS", "ATTEMPTS", "DEAD", "LAST ERROR")
				for _, dl := range dls {
					t.row(dl.EventSeq, dl.EventType, dl.Status, dl.Attempts, formatTime(dl.DeadAt), dl.LastError)
				}
				return t.flush()
			}
			page, err := cl.ListDeliveries(c.Context(), args[0], before, limit)
			if err != nil {
				return err
			}
			if a.json {
				page.Items = nonNilSlice(page.Items)
				return a.printJSON(page)
			}
			t := newTable(a.stdout(), "ID", "TIME", "SEQ", "TYPE", "ATTEMPT", "OUTCOME", "STATUS", "MS", "RESPONSE")
			for _, d := range page.Items {
				outcome := d.Outcome
				if d.Redelivery {
					outcome += " (redelivery)"
				}
				resp := d.Response
				if d.Error != "" {
					resp = d.Error
				}
				t.row(d.ID, formatTime(d.Time), d.EventSeq, d.EventType, d.Attempt, outcome, d.StatusCode, d.LatencyMS, resp)
			}
			if err := t.flush(); err != nil {
				return err
			}
			if page.NextBefore > 0 {
				a.infof("more: --before %d", page.NextBefore)
			}
			return nil
		},
	}
	c.Flags().Int64Var(&before, "before", 0, "only attempts with an id below this (read on from a previous page)")
	c.Flags().IntVar(&limit, "limit", 0, "at most this many (default the server's, 100)")
	c.Flags().BoolVar(&dead, "dead", false, "list the dead letters instead: events given up on after the retry window")
	c.Flags().StringVar(&status, "status", "", "with --dead: only dead, queued or delivered letters")
	return c
}

func (a *app) webhooksRedeliverCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "redeliver ID [SEQ...]",
		Short: "Queue dead letters for one more delivery: the events named, or all dead ones",
		Args:  minArgs(1, "ID", "SEQ..."),
		RunE: func(c *cobra.Command, args []string) error {
			var req client.RedeliverRequest
			for _, s := range args[1:] {
				n, err := strconv.ParseInt(s, 10, 64)
				if err != nil || n <= 0 {
					return usageErr(c, "event sequence number %q: want a positive integer", s)
				}
				req.Seqs = append(req.Seqs, n)
			}
			cl, err := a.client(c)
			if err != nil {
				return err
			}
			res, err := cl.Redeliver(c.Context(), args[0], req)
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(res)
			}
			if len(res.Queued) == 0 {
				a.infof("no dead letters to redeliver")
				return nil
			}
			a.infof("queued %d dead letter%s for redelivery", len(res.Queued), plural(len(res.Queued)))
			for _, s := range res.Queued {
				if _, err := fmt.Fprintln(a.stdout(), s); err != nil {
					return err
				}
			}
			return nil
		},
	}
}
