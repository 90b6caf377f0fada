package client

import "github.com/cairn-registry/cairn/internal/registry"

// Request and response types of the API that are not domain records. They
// are aliases of the server's own types, so the two can never disagree, and
// programs outside this module can name them through this package.
type (
	ModelCreate         = registry.ModelCreate
	ModelUpdate         = registry.ModelUpdate
	VersionUpdate       = registry.VersionUpdate
	CreateVersionResult = registry.CreateVersionResult
	RunCreate           = registry.RunCreate
	RunUpdate           = registry.RunUpdate
	RunLog              = registry.RunLog
	RunLinks            = registry.RunLinks
	LinkRequest         = registry.LinkRequest
	LineageGraph        = registry.LineageGraph
)
