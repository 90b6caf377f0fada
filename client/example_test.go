package client_test

import (
	"context"
	"fmt"
	"log"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/client"
)

// Push a directory as a new version of "churn", then pull what the
// champion alias points at. Errors carry stable codes.
func Example() {
	ctx := context.Background()
	c := client.New("http://localhost:8080", client.WithUser("alice"))

	res, err := c.Push(ctx, "churn", []string{"./model"}, cairn.VersionSpec{
		Metrics: map[string]float64{"auc": 0.91},
		Aliases: []string{"champion"},
	}, client.PushOptions{
		Progress: func(done, total int64) { fmt.Printf("\r%d/%d bytes", done, total) },
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Version.Ref(), "uploaded", res.BytesUploaded, "bytes")

	v, err := c.Pull(ctx, "churn@champion", "./deploy", client.PullOptions{Include: []string{"*.onnx"}})
	switch cairn.ErrorCodeOf(err) {
	case "":
		fmt.Println("pulled", v.Ref())
	case cairn.ENOTFOUND:
		fmt.Println("no such model or alias:", cairn.ErrorMessage(err))
	default:
		log.Fatal(err)
	}
}
