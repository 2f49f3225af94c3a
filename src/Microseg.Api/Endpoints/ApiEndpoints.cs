// The routes of SPEC §9 under /api2/json/cluster/sdn/microseg, each with the privilege it
// needs, and the one place where errors become HTTP statuses.
using Microseg.Api.Auth;
using Microseg.Api.Editing;
using Microseg.Policy;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Microseg.Api.Endpoints;

/// <summary>One route: method, path pattern and the privilege a token needs for it.</summary>
public sealed record ApiRoute(string Method, string Pattern, Privilege Privilege);

internal sealed class ApiEndpoints(PendingEditor editor, ConfigCache cache, TokenStore tokens, LocalAgent agent, ObserveEndpoints observe)
{
    public const string Base = "/api2/json/cluster/sdn/microseg";

    private readonly List<ApiRoute> routes = [];

    public IReadOnlyList<ApiRoute> Routes => routes;

    public void MapTo(IEndpointRouteBuilder app)
    {
        Map(app, "GET", Base, Privilege.Audit, Index);
        foreach (var type in ObjectTypes.All)
        {
            var path = $"{Base}/{type.Name()}";
            Map(app, "GET", path, Privilege.Audit, ctx => List(ctx, type));
            Map(app, "POST", path, Privilege.Allocate, ctx => Create(ctx, type));
            Map(app, "GET", path + "/{id}", Privilege.Audit, ctx => Read(ctx, type, Id(ctx)));
            Map(app, "PUT", path + "/{id}", Privilege.Allocate, ctx => Update(ctx, type, Id(ctx)));
            Map(app, "DELETE", path + "/{id}", Privilege.Allocate, ctx => Delete(ctx, type, Id(ctx)));
        }
        Map(app, "GET", $"{Base}/pending", Privilege.Audit, Pending);
        Map(app, "POST", $"{Base}/commit", Privilege.Allocate, Commit);
        Map(app, "GET", $"{Base}/explain", Privilege.Audit, Explain);
        Map(app, "GET", $"{Base}/matrix", Privilege.Audit, Matrix);
        Map(app, "GET", $"{Base}/status", Privilege.Audit, Status);
        Map(app, "GET", $"{Base}/nodes", Privilege.Audit, ctx => ClusterNodes.GetAsync(ctx, editor.Store));
        Map(app, "GET", $"{Base}/stats", Privilege.Audit, observe.Stats);
        Map(app, "GET", $"{Base}/drops", Privilege.Audit, observe.Drops);
        app.Map("/api2/{**rest}", ctx => ApiJson.WriteErrorAsync(ctx, StatusCodes.Status404NotFound,
            $"no such API method: {ctx.Request.Method} {ctx.Request.Path} (see {Base})"));
    }

    private static string Id(HttpContext ctx) => (string)ctx.Request.RouteValues["id"]!;

    private void Map(IEndpointRouteBuilder app, string method, string pattern, Privilege privilege, Func<HttpContext, Task> handler)
    {
        routes.Add(new ApiRoute(method, pattern, privilege));
        app.MapMethods(pattern, [method], async ctx =>
        {
            try
            {
                Authorize(ctx, privilege);
                await handler(ctx);
            }
            catch (ApiException e)
            {
                if (e.Status == StatusCodes.Status401Unauthorized) ctx.Response.Headers.WWWAuthenticate = TokenAuthentication.Scheme;
                await ApiJson.WriteErrorAsync(ctx, e.Status, e.Message, e.Errors);
            }
            catch (DigestConflictException e)
            {
                await ApiJson.WriteErrorAsync(ctx, StatusCodes.Status409Conflict, e.Message,
                    new Dictionary<string, string> { ["digest"] = $"the pending config changed: its digest is now {e.Actual}" });
            }
            catch (ConfigException e)
            {
                var errors = PendingEditor.FieldErrors(e.Problems, null);
                await ApiJson.WriteErrorAsync(ctx, StatusCodes.Status400BadRequest,
                    e.Problems.Count == 1 ? e.Problems[0].ToString() : $"{e.Problems.Count} problems: " + string.Join("; ", e.Problems), errors);
            }
        });
    }

    private void Authorize(HttpContext ctx, Privilege needed)
    {
        if (!TokenAuthentication.TryParse(ctx.Request.Headers.Authorization, out var id, out var secret))
            throw new ApiException(StatusCodes.Status401Unauthorized, $"authentication required: send 'Authorization: {TokenAuthentication.Scheme}=USER@REALM!NAME=SECRET'");
        var token = tokens.Verify(id, secret)
            ?? throw new ApiException(StatusCodes.Status401Unauthorized, "authentication failed: unknown token or wrong secret");
        if (!token.Has(needed))
            throw new ApiException(StatusCodes.Status403Forbidden, $"permission check failed: token '{token.Id}' lacks {needed.Name()}");
    }

    // ---- objects ----------------------------------------------------------------------------

    /// <summary>The parameters of a read: none but <paramref name="allowed"/> (as in Proxmox,
    /// whose schemas forbid additional properties, a typo is an error, not ignored).</summary>
    private static async Task<RequestFields> ReadParametersAsync(HttpContext ctx, params string[] allowed)
    {
        var fields = await RequestFields.ReadAsync(ctx.Request, ctx.RequestAborted);
        fields.RejectUnknown(allowed);
        return fields;
    }

    private async Task Index(HttpContext ctx)
    {
        var fields = await ReadParametersAsync(ctx);
        fields.ThrowIfErrors("invalid request");
        await ApiJson.WriteAsync(ctx, w =>
        {
            w.WriteStartArray();
            foreach (var name in ObjectTypes.All.Select(t => t.Name()).Concat(["pending", "commit", "explain", "matrix", "status", "stats", "drops"]))
            {
                w.WriteStartObject();
                w.WriteString("subdir", name);
                w.WriteEndObject();
            }
            w.WriteEndArray();
        });
    }

    /// <summary>The config a list or read shows: the pending one with its digest, or with
    /// running=1 the committed snapshot, whose objects carry a null digest (as Proxmox's SDN
    /// lists read from the running config: writes are checked against the pending file only).</summary>
    private (PolicyConfig Config, string? Digest) Shown(RequestFields fields)
    {
        var running = fields.Boolean("running") ?? false;
        fields.ThrowIfErrors("invalid request");
        if (!running)
        {
            var pending = cache.ReadPending();
            return (pending.Config, pending.Digest);
        }
        var snapshot = cache.ReadRunning()
            ?? throw ApiException.NotFound($"nothing committed yet: {editor.Store.RunningLocation} does not exist");
        return (snapshot.Config, null);
    }

    private async Task List(HttpContext ctx, ObjectType type)
    {
        var (config, digest) = Shown(await ReadParametersAsync(ctx, "running"));
        await ApiJson.WriteAsync(ctx, w =>
        {
            w.WriteStartArray();
            foreach (var o in config.Objects.Where(o => o.Type == type)) ApiJson.WriteObject(w, o, digest);
            w.WriteEndArray();
        }, w =>
        {
            if (digest is null) w.WriteNull("digest"); else w.WriteString("digest", digest);
        });
    }

    private async Task Read(HttpContext ctx, ObjectType type, string id)
    {
        var (config, digest) = Shown(await ReadParametersAsync(ctx, "running"));
        var obj = ObjectEdits.Existing<IConfigObject>(config, type, id);
        await ApiJson.WriteAsync(ctx, w => ApiJson.WriteObject(w, obj, digest));
    }

    private async Task Create(HttpContext ctx, ObjectType type)
    {
        var (obj, digest) = await EditAsync(ctx, $"creating this {type.Name()}", f => ObjectEdits.Create(type, f));
        await ApiJson.WriteAsync(ctx, w => ApiJson.WriteObject(w, obj!, digest));
    }

    private async Task Update(HttpContext ctx, ObjectType type, string id)
    {
        var (obj, digest) = await EditAsync(ctx, $"updating {type.Name()} '{id}'", f => ObjectEdits.Update(type, id, f));
        await ApiJson.WriteAsync(ctx, w => ApiJson.WriteObject(w, obj!, digest));
    }

    private async Task Delete(HttpContext ctx, ObjectType type, string id)
    {
        var (_, digest) = await EditAsync(ctx, $"deleting {type.Name()} '{id}'", f => ObjectEdits.Delete(type, id, f));
        await ApiJson.WriteAsync(ctx, w =>
        {
            w.WriteStartObject();
            w.WriteString("type", type.Name());
            w.WriteString("id", id);
            w.WriteBoolean("deleted", true);
            w.WriteString("digest", digest);
            w.WriteEndObject();
        });
    }

    /// <summary>The path every write shares: the request's parameters become an edit (field
    /// errors are thrown before the file is touched), which the editor runs against the digest
    /// the request gave.</summary>
    private async Task<(IConfigObject? Object, string Digest)> EditAsync(HttpContext ctx, string what, Func<RequestFields, ConfigEdit> parse)
    {
        var fields = await RequestFields.ReadAsync(ctx.Request, ctx.RequestAborted);
        var digest = Digest(fields);
        var edit = parse(fields);
        return await editor.EditAsync(what, edit, digest, ctx.RequestAborted);
    }

    private string? Digest(RequestFields fields)
    {
        var digest = fields.String("digest");
        if (digest is not null && editor.Store.DigestProblem(digest) is { } problem) fields.Error("digest", problem);
        return digest;
    }

    // ---- pending, commit --------------------------------------------------------------------

    private async Task Pending(HttpContext ctx)
    {
        (await ReadParametersAsync(ctx)).ThrowIfErrors("invalid request");
        var pending = cache.ReadPending();
        var running = cache.ReadRunning();
        var changes = PendingDiff.Compute(pending.Config, running?.Config);
        await ApiJson.WriteAsync(ctx, w =>
        {
            w.WriteStartObject();
            w.WriteString("digest", pending.Digest);
            if (running is null) w.WriteNull("running_version"); else w.WriteNumber("running_version", running.Version);
            w.WriteStartArray("changes");
            foreach (var c in changes)
            {
                w.WriteStartObject();
                w.WriteString("type", c.Type.Name());
                w.WriteString("id", c.Id);
                w.WriteString("change", c.Kind.Word());
                w.WritePropertyName("pending");
                if (c.Pending is null) w.WriteNullValue(); else SnapshotFormat.WriteObject(w, c.Pending);
                w.WritePropertyName("running");
                if (c.Running is null) w.WriteNullValue(); else SnapshotFormat.WriteObject(w, c.Running);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        });
    }

    private async Task Commit(HttpContext ctx)
    {
        var fields = await RequestFields.ReadAsync(ctx.Request, ctx.RequestAborted);
        fields.RejectUnknown(["digest", "allow-empty"]);
        var digest = Digest(fields);
        var allowEmpty = fields.Boolean("allow-empty") ?? false;
        fields.ThrowIfErrors("invalid commit");
        var result = await editor.CommitAsync(digest, allowEmpty, ctx.RequestAborted);
        // The snapshot is written; whatever the apply does, the commit stands and says so. The
        // apply runs even if the client has gone: the kernel must follow what was committed.
        var apply = await agent.ApplyAsync(result.Snapshot, CancellationToken.None);
        await ApiJson.WriteAsync(ctx, w =>
        {
            w.WriteStartObject();
            w.WriteNumber("version", result.Snapshot.Version);
            w.WriteBoolean("changed", result.Changed);
            w.WriteString("digest", result.PendingDigest);
            w.WriteString("running_config", editor.Store.RunningLocation);
            w.WriteStartArray("marks_assigned");
            foreach (var g in result.MarksAssigned)
            {
                w.WriteStartObject();
                w.WriteString("group", g.Name);
                w.WriteNumber("mark", g.Mark!.Value);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WritePropertyName("apply");
            StatusJson.WriteApply(w, apply);
            w.WriteEndObject();
        });
    }

    // ---- explain, matrix, status ------------------------------------------------------------

    /// <summary>The engine over the pending config (as the CLI's explain and matrix do), or
    /// the committed snapshot with running=1.</summary>
    private PolicyEngine Engine(RequestFields fields) => Resolved(fields).Engine;

    private ResolvedConfig Resolved(RequestFields fields)
    {
        var running = fields.Boolean("running") ?? false;
        fields.ThrowIfErrors("invalid request");
        return cache.Resolve(committed: running)
            ?? throw new ApiException(StatusCodes.Status404NotFound, $"nothing committed yet: {editor.Store.RunningLocation} does not exist");
    }

    private async Task Explain(HttpContext ctx)
    {
        var fields = await RequestFields.ReadAsync(ctx.Request, ctx.RequestAborted);
        fields.RejectUnknown(["src", "dst", "proto", "dport", "running"]);
        var src = fields.String("src", required: true);
        var dst = fields.String("dst", required: true);
        var engine = Engine(fields);
        var packet = ExplainedPacket(fields);
        if (src != Names.Untagged && !engine.HasGroup(src!)) fields.Error("src", UnknownGroup(engine, src!, "source"));
        if (!engine.HasGroup(dst!)) fields.Error("dst", UnknownGroup(engine, dst!, "destination"));
        fields.ThrowIfErrors("cannot explain");
        var e = engine.Explain(src == Names.Untagged ? null : src, dst!, packet);
        await ApiJson.WriteAsync(ctx, w => PolicyJson.WriteExplanation(w, e));
    }

    /// <summary>The packet explain is asked about: proto (a name or number) and dport (one
    /// port; a tcp, udp or sctp packet without one is a fragment after the first). Neither:
    /// null, the answer for packets no service rule matches, with the per-service listing.</summary>
    private static Packet? ExplainedPacket(RequestFields fields)
    {
        var protoText = fields.String("proto");
        var port = fields.Integer("dport");
        if (port is { } p && p is < PortRange.MinPort or > PortRange.MaxPort)
            fields.Error("dport", $"port {p} is out of range {PortRange.MinPort}..{PortRange.MaxPort} (one port: explain answers for one packet)");
        if (protoText is null)
        {
            if (fields.Has("dport")) fields.Error("dport", "dport needs a protocol: give proto tcp, udp or sctp");
            return null;
        }
        if (!Service.TryParseProto(protoText, out var proto, out var problem))
        {
            fields.Error("proto", problem!);
            return null;
        }
        if (port is not null && !Service.HasPorts(proto))
            fields.Error("dport", $"dport needs a protocol with ports (tcp, udp or sctp), not {Service.ProtoName(proto)}");
        return new Packet(proto, port is { } q and >= PortRange.MinPort and <= PortRange.MaxPort ? (ushort)q : null);
    }

    private static string UnknownGroup(PolicyEngine engine, string name, string role) =>
        $"unknown {role} group '{Text.Clip(name)}' (groups: {string.Join(", ", engine.Groups.Take(20))}{(engine.Groups.Count > 20 ? ", …" : "")})";

    private async Task Matrix(HttpContext ctx)
    {
        var fields = await RequestFields.ReadAsync(ctx.Request, ctx.RequestAborted);
        fields.RejectUnknown(["running", .. MatrixQuery.Parameters]);
        var resolved = Resolved(fields);
        var query = MatrixQuery.Parse(fields, resolved.Forest);
        fields.ThrowIfErrors("invalid matrix request");
        await ApiJson.WriteAsync(ctx, w => query.Write(w, resolved.Engine), query.WritePaging);
    }

    private async Task Status(HttpContext ctx)
    {
        (await ReadParametersAsync(ctx)).ThrowIfErrors("invalid request");
        var pending = cache.ReadPending();
        Snapshot? running = null;
        string? runningProblem = null;
        try { running = cache.ReadRunning(); }
        catch (ConfigException e) { runningProblem = e.Problems[0].ToString(); }
        var (status, statusError) = agent.Status(running?.Config);
        var changes = PendingDiff.Compute(pending.Config, running?.Config).Count;
        await ApiJson.WriteAsync(ctx, w => StatusJson.Write(w, agent, pending, running, runningProblem, changes, status, statusError));
    }
}
