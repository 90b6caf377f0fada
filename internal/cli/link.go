package cli

import (
	"github.com/spf13/cobra"
)

func (a *app) linkCommand() *cobra.Command {
	var aliases []string
	c := &cobra.Command{
		Use:   "link SRC_REF DEST_MODEL",
		Short: "Link a version into another model: same files (no bytes copied), a linked_from edge",
		Long: `Make a new version of DEST_MODEL from the version SRC_REF names: the same
manifest (the blobs are shared, nothing is uploaded) and the same record,
ready at once, with a linked_from lineage edge from the source. DEST_MODEL is
created with the source's kind if it does not exist. Use it to promote a
version from a team's model into a shared registry model.`,
		Example: `  cairn link churn-experiments@v12 churn --alias candidate`,
		Args:    exactArgs("SRC_REF", "DEST_MODEL"),
		RunE: func(c *cobra.Command, args []string) error {
			src, err := parseRef(c, args[0])
			if err != nil {
				return err
			}
			dest, err := parseModelName(c, args[1])
			if err != nil {
				return err
			}
			cl, err := a.client(c)
			if err != nil {
				return err
			}
			v, err := cl.LinkVersion(c.Context(), src.String(), dest, aliases)
			if err != nil {
				return err
			}
			if !a.json {
				a.infof("linked %s as %s", args[0], v.Ref())
			}
			return a.printVersion(v)
		},
	}
	c.Flags().StringArrayVar(&aliases, "alias", nil, "set this alias on the new version (repeatable)")
	return c
}
