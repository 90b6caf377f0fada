package migrate

import (
	"context"
	"fmt"

	"github.com/cairn-registry/cairn"
)

// KindArtifacts counts the files of the MLflow artifact store (run and
// logged-model files behind the mlflow-artifacts proxy). They are copied
// with their blobs, after the versions: the path, digest, size, and who
// wrote them when.
const KindArtifacts = "artifacts"

// walkArtifacts reads every artifact in path order.
func (w *walker) walkArtifacts(ctx context.Context, fn func(context.Context, []*cairn.Artifact) error) error {
	q := cairn.ArtifactQuery{Limit: w.batch}
	for {
		p, err := w.src.Meta.ListArtifacts(ctx, q)
		if err != nil {
			return err
		}
		if len(p.Items) > 0 && fn != nil {
			if err := fn(ctx, p.Items); err != nil {
				return err
			}
		}
		if p.NextToken == "" {
			return nil
		}
		q.From = p.NextToken
	}
}

// artifactBlobJobs lists the blobs of as: each is required, an artifact
// being written only once its blob is stored.
func artifactBlobJobs(as []*cairn.Artifact) []blobJob {
	jobs := make([]blobJob, 0, len(as))
	for _, a := range as {
		jobs = append(jobs, blobJob{d: a.Digest, size: a.Size, required: true, ref: "artifact " + a.Path})
	}
	return jobs
}

// importArtifacts writes artifacts whose blobs the target has already. An
// artifact the target has is skipped if it is the same, and is an error
// if it differs (the target is not a copy of this source).
func (c *copier) importArtifacts(ctx context.Context, as []*cairn.Artifact) error {
	return c.importBatch(ctx, func(tx cairn.Tx, _ cairn.Importer) error {
		for _, a := range as {
			got, err := tx.GetArtifact(ctx, a.Path)
			switch {
			case err == nil && *got == *a:
				err = cairn.Errorf(cairn.ECONFLICT, "artifact %q exists", a.Path)
			case err == nil:
				err = differs("artifact " + a.Path)
			case cairn.IsCode(err, cairn.ENOTFOUND):
				err = tx.PutArtifact(ctx, a)
			}
			if err := c.count(KindArtifacts, err); err != nil {
				return fmt.Errorf("artifact %q: %w", a.Path, err)
			}
		}
		return nil
	})
}

// checkArtifactBlobsPresent makes sure the target has the blob of every
// artifact of as before the artifacts are written.
func (c *copier) checkArtifactBlobsPresent(ctx context.Context, as []*cairn.Artifact) error {
	for _, a := range as {
		if c.done[a.Digest] {
			continue
		}
		_, err := c.dst.Blobs.Stat(ctx, a.Digest)
		switch {
		case err == nil:
			c.done[a.Digest] = true
		case cairn.IsCode(err, cairn.ENOTFOUND):
			return cairn.Errorf(cairn.EINVALID, "the archive lacks blob %s of artifact %q", a.Digest, a.Path)
		default:
			return fmt.Errorf("target blob %s: %w", a.Digest, err)
		}
	}
	return nil
}

// countArtifacts counts a store's artifacts.
func countArtifacts(ctx context.Context, r cairn.Reader) (int64, error) {
	var n int64
	q := cairn.ArtifactQuery{Limit: cairn.MaxArtifactList}
	for {
		p, err := r.ListArtifacts(ctx, q)
		if err != nil {
			return 0, err
		}
		n += int64(len(p.Items))
		if p.NextToken == "" {
			return n, nil
		}
		q.From = p.NextToken
	}
}
