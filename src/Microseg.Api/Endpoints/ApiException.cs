// What a request did wrong, as the HTTP layer reports it: status, one-line message and, for
// invalid input, one message per field.
namespace Microseg.Api.Endpoints;

public sealed class ApiException(int status, string message, IReadOnlyDictionary<string, string>? errors = null) : Exception(message)
{
    public int Status { get; } = status;

    /// <summary>Field name → what is wrong with it (400 only).</summary>
    public IReadOnlyDictionary<string, string>? Errors { get; } = errors;

    public static ApiException Invalid(string message, IReadOnlyDictionary<string, string> errors) => new(400, message, errors);

    public static ApiException Invalid(string field, string problem) =>
        new(400, $"invalid {field}: {problem}", new Dictionary<string, string> { [field] = problem });

    public static ApiException NotFound(string message) => new(404, message);
}
