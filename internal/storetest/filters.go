package storetest

// filterTests exercise ListModels and ListVersions with filters; see
// filters once internal/sqlfilter compiles them.
var filterTests = []test{}
