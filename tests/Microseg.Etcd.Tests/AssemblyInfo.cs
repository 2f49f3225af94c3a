// One test at a time: the store tests give etcd calls a few seconds to answer, and the cluster
// kernel tests (three lab hosts, three members, three agents) would starve them of the 2 cores.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
