package cairn

import (
	"strings"
	"time"
)

// Artifact is one file of the MLflow artifact store that Cairn keeps for
// runs and logged models (the mlflow-artifacts proxy): a path in one flat
// namespace, such as "1/5f0c…/artifacts/model/MLmodel", naming a blob. The
// bytes live in the blob store like every other blob; the path is only a
// key, never a filesystem path. Writing a path again points it at the new
// blob; a version registered from the old one keeps the old blob.
type Artifact struct {
	Path      string    `json:"path"`
	Digest    Digest    `json:"digest"`
	Size      int64     `json:"size"`
	UpdatedBy string    `json:"updated_by"`
	UpdatedAt time.Time `json:"updated_at"`
}

// ArtifactQuery lists artifacts whose path starts with Prefix and is not
// below From, in path order (byte order), at most Limit of them.
type ArtifactQuery struct {
	Prefix string // "" for every artifact, else a directory ending with '/'
	From   string // inclusive; "" to start at the beginning
	Limit  int    // 0 means 1000; at most MaxArtifactList
}

// ArtifactPage is one page of artifacts. NextToken, when more follow, is
// the path of the next artifact: the From of the next page.
type ArtifactPage struct {
	Items     []*Artifact `json:"items"`
	NextToken string      `json:"next_page_token"`
}

// MaxArtifactList bounds ArtifactQuery.Limit.
const MaxArtifactList = 10000

// ValidateArtifactPath checks an artifact path: a manifest path (see
// ValidatePath: relative, '/'-separated, no empty, "." or ".." segments, no
// backslashes, control characters or drive letters) that also has no '#'
// and no ';', the characters MLflow's path-traversal fixes refuse (a
// fragment or path parameter that some layer strips after the check).
func ValidateArtifactPath(p string) error {
	if err := ValidatePath(p); err != nil {
		return Errorf(EINVALID, "invalid artifact path: %s", strings.TrimPrefix(ErrorMessage(err), "invalid file path "))
	}
	if i := strings.IndexAny(p, "#;"); i >= 0 {
		return Errorf(EINVALID, "invalid artifact path %q: %q is not allowed", truncate(p, 200), p[i])
	}
	return nil
}
