package mlflowapi

// SetRunArtifactPage sets the page size of artifacts/list, so that tests
// page through a few files.
func (s *Server) SetRunArtifactPage(n int) { s.runArtifactPage = n }
