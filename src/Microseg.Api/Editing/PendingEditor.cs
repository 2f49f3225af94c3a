// The API's one write path to the pending config: IConfigStore.EditPending (atomic against
// every other editor), with group commit. Edits that arrive while a write is in progress queue
// up, and the next write applies all of them, in arrival order, in one read-modify-write: one
// read, one validation, one write, instead of one each. Every edit is still checked against
// the config as the edits before it left it:
// - its digest against the pending config's (409 when it differs). Digests are the store's to
//   give: an edit that names one after an earlier edit of the batch changed the config waits
//   for the next write, and is checked against the digest that write produced;
// - its own checks (unknown ids, marks in use, ...: 400);
// - as in the CLI, problems the config already had do not block it; problems it adds do
//   (400, each under the field it concerns). A batch that together adds no problem is taken
//   whole; one that does is checked edit by edit, and exactly the edits that add one are refused.
// A refused edit changes nothing. Each caller is answered once the write holding its edit is
// on disk, with the digest of the file as written.
using Microseg.Api.Endpoints;
using Microseg.Policy;

namespace Microseg.Api.Editing;

public sealed class PendingEditor(IConfigStore store)
{
    private sealed record QueuedEdit(string What, ConfigEdit Edit, string? ExpectedDigest)
    {
        public TaskCompletionSource<(IConfigObject? Object, string Digest)> Done { get; } =
            new(TaskCreationOptions.RunContinuationsAsynchronously);
        public IConfigObject? Result { get; set; }
        public Exception? Error { get; set; }
    }

    // Held by the writer for each batch and by commit, which also writes the pending file.
    private readonly SemaphoreSlim gate = new(1, 1);
    private readonly object queueLock = new();
    private List<QueuedEdit> queue = [];
    private bool writing;

    public IConfigStore Store => store;

    /// <summary>Runs one edit. The edit returns the new config and the object the response
    /// shows (null for a delete). Returns that object and the file's digest after the write.</summary>
    public Task<(IConfigObject? Object, string Digest)> EditAsync(string what, ConfigEdit edit, string? expectedDigest, CancellationToken cancel)
    {
        var queued = new QueuedEdit(what, edit, expectedDigest);
        bool start;
        lock (queueLock)
        {
            queue.Add(queued);
            start = !writing;
            writing = true;
        }
        if (start) _ = Task.Run(DrainAsync, CancellationToken.None);
        // A client that goes away does not take its edit back: it may already be written.
        return queued.Done.Task.WaitAsync(cancel);
    }

    private async Task DrainAsync()
    {
        while (true)
        {
            List<QueuedEdit> batch;
            lock (queueLock)
            {
                if (queue.Count == 0)
                {
                    writing = false;
                    return;
                }
                batch = queue;
                queue = [];
            }
            await gate.WaitAsync();
            try
            {
                Write(batch);
            }
            finally
            {
                gate.Release();
            }
        }
    }

    private void Write(List<QueuedEdit> batch)
    {
        while (batch.Count > 0)
        {
            var taken = batch.Count;
            string digest;
            try
            {
                digest = store.EditPending(pending => ApplyInOrder(pending, batch, out taken));
            }
            catch (NothingToWrite)
            {
                // Every edit taken was refused: the pending config stays as it is, byte for byte.
                foreach (var q in batch.Take(taken)) q.Done.TrySetException(q.Error!);
                batch = batch[taken..];
                continue;
            }
            catch (Exception e)
            {
                // The write itself failed (unreadable file, I/O): no edit of the batch happened.
                foreach (var q in batch) q.Done.TrySetException(e);
                return;
            }
            foreach (var q in batch.Take(taken))
            {
                if (q.Error is not null) q.Done.TrySetException(q.Error);
                else q.Done.TrySetResult((q.Result, digest));
            }
            batch = batch[taken..];
        }
    }

    /// <summary>Applies the first <paramref name="taken"/> edits of the batch (all of them,
    /// unless one names a digest after an earlier one changed the config).</summary>
    private PolicyConfig ApplyInOrder(PendingConfig initial, List<QueuedEdit> batch, out int taken)
    {
        var before = Validation.Check(initial.Config);
        // Validating the whole config after every edit costs O(config) each: first try the
        // batch with one check at its end. Only when the batch as a whole adds a problem is each
        // edit checked on its own, so that exactly the edits that add problems are refused.
        var (config, changed) = Apply(initial, batch, null, out taken);
        if (changed && Validation.AddedProblems(before, Validation.Check(config)).Count > 0)
            (config, changed) = Apply(initial, batch, before, out taken);
        return changed ? config : throw new NothingToWrite();
    }

    /// <summary>Applies the edits in order; with <paramref name="problems"/> (the problems of
    /// <paramref name="initial"/>), refuses each edit that adds one.</summary>
    private (PolicyConfig Config, bool Changed) Apply(PendingConfig initial, List<QueuedEdit> batch, IReadOnlyList<ConfigProblem>? problems, out int taken)
    {
        var config = initial.Config;
        var changed = false;
        taken = 0;
        foreach (var q in batch)
        {
            // Only the store knows the digest of a config it has not written yet.
            if (q.ExpectedDigest is not null && changed) break;
            taken++;
            q.Result = null;
            q.Error = null;
            try
            {
                if (q.ExpectedDigest is not null && !string.Equals(q.ExpectedDigest, initial.Digest, StringComparison.OrdinalIgnoreCase))
                    throw new DigestConflictException(store.PendingLocation, q.ExpectedDigest, initial.Digest);
                var (after, obj) = q.Edit(config);
                if (problems is not null) problems = RefuseAddedProblems(q.What, problems, after, obj);
                config = after;
                q.Result = obj;
                changed = true;
            }
            catch (Exception e) when (e is ApiException or DigestConflictException or ConfigException)
            {
                q.Error = e;
            }
        }
        return (config, changed);
    }

    /// <summary>The problems of <paramref name="after"/>; throws when it has one that
    /// <paramref name="before"/> did not.</summary>
    private static IReadOnlyList<ConfigProblem> RefuseAddedProblems(string what, IReadOnlyList<ConfigProblem> before, PolicyConfig after, IConfigObject? obj)
    {
        var problems = Validation.Check(after);
        var added = Validation.AddedProblems(before, problems);
        if (added.Count > 0)
            throw ApiException.Invalid(ConfigEdits.RefusalMessage(what, added), FieldErrors(added, obj, deleting: obj is null));
        return problems;
    }

    private sealed class NothingToWrite : Exception;

    /// <summary>Commit runs under the same gate: it may write marks back to the pending file.</summary>
    public async Task<CommitResult> CommitAsync(string? expectedDigest, bool allowEmpty, CancellationToken cancel)
    {
        await gate.WaitAsync(cancel);
        try
        {
            return store.Commit(expectedDigest, allowEmpty);
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>Which request field each problem is about: the property it names, or the id
    /// (the object as a whole). A problem of another object (a rule left pointing at a deleted
    /// group) names that object; after a delete, whose only parameter is the id, every problem
    /// is the id's.</summary>
    internal static SortedDictionary<string, string> FieldErrors(IEnumerable<ConfigProblem> problems, IConfigObject? target, bool deleting = false)
    {
        var errors = new SortedDictionary<string, string>(StringComparer.Ordinal);
        var self = target is null ? null : ConfigProblem.Describe(target.Type, target.Id);
        foreach (var p in problems)
        {
            var field = deleting ? "id" : p.Field ?? "id";
            var message = p.ObjectRef is not null && p.ObjectRef != self ? $"{p.ObjectRef}: {p.Message}" : p.Message;
            errors[field] = errors.TryGetValue(field, out var earlier) ? $"{earlier}; {message}" : message;
        }
        return errors;
    }
}
