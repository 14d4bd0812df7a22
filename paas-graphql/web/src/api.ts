// Queries and mutations: a plain POST to /graphql with the token as a bearer. Every failure
// becomes an ApiError with the API's `extensions.code` and message (or NETWORK / HTTP_<status>
// when no GraphQL answer came back), which the pages show in a banner, never as raw JSON.
import { token } from "./session";

export class ApiError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

interface GraphQLErrorBody {
  message?: string;
  extensions?: { code?: string };
}

/** The first of a GraphQL answer's errors, as an ApiError. */
export function fromGraphQLErrors(errors: readonly GraphQLErrorBody[]): ApiError {
  const first = errors[0] ?? {};
  return new ApiError(first.extensions?.code ?? "ERROR", first.message ?? "The request failed.");
}

/** Any thrown value as an ApiError. */
export function asApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  if (Array.isArray(error)) return fromGraphQLErrors(error as GraphQLErrorBody[]);
  if (error instanceof Error) return new ApiError("ERROR", error.message);
  return new ApiError("ERROR", String(error));
}

export async function gql<T>(
  query: string,
  variables: Record<string, unknown> = {},
  bearer: string | null = token(),
): Promise<T> {
  const headers: Record<string, string> = {
    "Content-Type": "application/json",
    Accept: "application/json",
  };
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  let response: Response;
  try {
    response = await fetch("/graphql", {
      method: "POST",
      headers,
      body: JSON.stringify({ query, variables }),
      credentials: "omit",
    });
  } catch {
    throw new ApiError("NETWORK", "The server could not be reached. Check your connection and retry.");
  }
  let body: { data?: T | null; errors?: GraphQLErrorBody[] };
  try {
    body = await response.json();
  } catch {
    throw new ApiError(
      `HTTP_${response.status}`,
      `The server answered ${response.status} ${response.statusText} without a GraphQL response.`,
    );
  }
  if (body.errors && body.errors.length > 0) throw fromGraphQLErrors(body.errors);
  if (body.data == null) throw new ApiError(`HTTP_${response.status}`, "The server answered no data.");
  return body.data;
}
