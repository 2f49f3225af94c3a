// Kernel tests build namespaces and run real traffic: one at a time on a 2-core machine.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
