package cli

import (
	"context"
	"net/url"
	"strings"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/client"
	"github.com/spf13/cobra"
)

// client returns an API client for the configured server. A URL that is
// not http(s)://host is a usage error.
func (a *app) client(c *cobra.Command) (*client.Client, error) {
	raw := a.serverURL()
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, withHint(cairn.Errorf(cairn.EINVALID, "invalid server URL %q", raw),
			"set --url or CAIRN_URL to the server's address, such as %s", DefaultURL)
	}
	opts := []client.Option{client.WithUserAgent("cairn-cli")}
	if u := a.userName(); u != "" {
		opts = append(opts, client.WithUser(u))
	}
	if t := a.authToken(); t != "" {
		opts = append(opts, client.WithToken(t))
	}
	return client.New(raw, opts...), nil
}

// versionOf returns the model and number a reference names. A NAME@vN
// reference needs no round trip; anything else is resolved by the server.
func versionOf(ctx context.Context, cl *client.Client, ref cairn.Ref) (string, int64, error) {
	if ref.Kind == cairn.RefVersion {
		return ref.Model, ref.Version, nil
	}
	v, err := cl.Resolve(ctx, ref.String())
	if err != nil {
		return "", 0, err
	}
	return v.Model, v.Number, nil
}

// deleteCommand is a command that deletes one thing named by its single
// argument through del, printing {"deleted": ARG} with --json and done
// (a format with one %s for the argument) otherwise.
func (a *app) deleteCommand(use, short string, del func(context.Context, *client.Client, string) error, done string) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  exactArgs(strings.Fields(use)[1]),
		RunE: func(c *cobra.Command, args []string) error {
			cl, err := a.client(c)
			if err != nil {
				return err
			}
			if err := del(c.Context(), cl, args[0]); err != nil {
				return err
			}
			if a.json {
				return a.printJSON(map[string]string{"deleted": args[0]})
			}
			a.infof(done, args[0])
			return nil
		},
	}
}
