package policy

// scheduleChecks are the placement checks: whether the pod fits a node.
func scheduleChecks(o Options) []Check { return nil }
