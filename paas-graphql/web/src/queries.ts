// The GraphQL documents the dashboard sends, with the shapes they answer (see
// paas-graphql/schema.graphql).

export type AppStatus =
  | "PENDING" | "BUILDING" | "STARTING" | "RUNNING" | "FAILED" | "STOPPED" | "SLEEPING" | "DELETING";

export type Language = "RUST" | "GO" | "NODE" | "PYTHON" | "STATIC" | "CONTAINERFILE";

export interface PageInfo {
  hasNextPage: boolean;
  endCursor: string | null;
}

export interface AppRow {
  id: string;
  name: string;
  status: AppStatus;
  version: number;
  endpoint: { url: string };
}

export const ME = `query Me { me { name } }`;

export const APPS = `query Apps($first: Int!, $after: String) {
  applications(first: $first, after: $after) {
    pageInfo { hasNextPage endCursor }
    nodes { id name status version endpoint { url } }
  }
}`;

export interface StatusChange {
  applicationId: string;
  status: AppStatus;
  version: number;
  deploymentId: string | null;
  reason: string | null;
  at: string;
}

export const STATUS = `subscription Status($id: ID!, $afterVersion: Int) {
  applicationStatus(id: $id, afterVersion: $afterVersion) {
    applicationId status version deploymentId reason at
  }
}`;

export const NAME_AVAILABLE = `query NameAvailable($name: String!) { nameAvailable(name: $name) }`;

export interface RepositoryCheck {
  exists: boolean;
  branchExists: boolean;
  defaultBranch: string | null;
  language: Language | null;
}

export const REPOSITORY = `query Repository($url: String!, $branch: String) {
  repository(url: $url, branch: $branch) { exists branchExists defaultBranch language }
}`;

export const CREATE = `mutation Create($input: CreateApplicationInput!) {
  createApplication(input: $input) {
    application { id name status version endpoint { url } deployments { id } }
  }
}`;

export interface Deployment {
  id: string;
  status: "QUEUED" | "BUILDING" | "BUILT" | "STARTING" | "RUNNING" | "FAILED" | "STOPPED";
  commit: string | null;
  error: string | null;
  origin: string | null;
  createdAt: string;
}

export interface Task {
  id: string;
  kind: string;
  state: "QUEUED" | "RUNNING" | "SUCCEEDED" | "FAILED";
  progress: string | null;
  error: string | null;
  deployment: string | null;
  createdAt: string;
  endedAt: string | null;
}

export interface Instance {
  id: string;
  host: string;
  port: number;
  deployment: string;
  state: "RUNNING" | "DRAINING" | "CRASHED";
  startedAt: string;
}

export interface Scaling {
  minInstances: number;
  maxInstances: number;
  idleSeconds: number;
  targetConcurrency: number;
}

export interface AppDetail {
  id: string;
  name: string;
  status: AppStatus;
  statusReason: string | null;
  desiredState: "RUNNING" | "STOPPED";
  version: number;
  language: Language | null;
  port: number | null;
  repository: { url: string; branch: string; commit: string | null };
  autoDeploy: boolean;
  webhook: { url: string; createdAt: string; lastDeliveryAt: string | null } | null;
  endpoint: { url: string };
  env: { key: string }[];
  scaling: Scaling;
  domains: string[];
  instances: Instance[];
  deployments: Deployment[];
  tasks: Task[];
}

const DETAIL_FIELDS = `id name status statusReason desiredState version language port
  repository { url branch commit }
  autoDeploy
  webhook { url createdAt lastDeliveryAt }
  endpoint { url }
  env { key }
  scaling { minInstances maxInstances idleSeconds targetConcurrency }
  domains
  instances { id host port deployment state startedAt }
  deployments { id status commit error origin createdAt }
  tasks(limit: 20) { id kind state progress error deployment createdAt endedAt }`;

export const APP = `query App($id: ID!) { application(id: $id) { ${DETAIL_FIELDS} } }`;

/** Mutations on one app answer the app, refreshed whole. */
function appMutation(name: string, signature: string, call: string): string {
  return `mutation ${name}($id: ID!${signature}) { ${call} { ${DETAIL_FIELDS} } }`;
}

export const REDEPLOY = appMutation("Redeploy", "", "redeployApplication(id: $id)");
export const RESTART = appMutation("Restart", "", "restartApplication(id: $id)");
export const STOP = appMutation("Stop", "", "stopApplication(id: $id)");
export const START = appMutation("Start", "", "startApplication(id: $id)");
export const ROLLBACK = appMutation("Rollback", ", $deployment: ID!", "rollbackApplication(id: $id, deployment: $deployment)");
export const UPDATE = appMutation("Update", ", $input: UpdateApplicationInput!", "updateApplication(id: $id, input: $input)");
export const ADD_DOMAIN = appMutation("AddDomain", ", $domain: String!", "addDomain(id: $id, domain: $domain)");
export const REMOVE_DOMAIN = appMutation("RemoveDomain", ", $domain: String!", "removeDomain(id: $id, domain: $domain)");
export const CREATE_WEBHOOK = `mutation CreateWebhook($id: ID!) { createWebhook(appId: $id) { url secret } }`;
export const DELETE_WEBHOOK = `mutation DeleteWebhook($id: ID!) { deleteWebhook(appId: $id) }`;
export const DELETE = `mutation Delete($id: ID!) { deleteApplication(id: $id) }`;

export type LogStream = "STDOUT" | "STDERR" | "BUILD" | "SYSTEM" | "ROUTER";

export interface LogLine {
  __typename: "LogLine";
  timestamp: string;
  stream: LogStream;
  deployment: string | null;
  text: string;
}

export interface LogsLagged {
  __typename: "LogsLagged";
  skipped: number;
  first: string;
  last: string;
}

export type LogEvent = LogLine | LogsLagged;

export interface LogPage {
  lines: LogLine[];
  lastNano: string | null;
}

const LINE = `__typename timestamp stream deployment text`;

export const LOG_PAGE = `query LogPage($appId: ID!, $from: String, $lastNano: String, $limit: Int, $direction: LogDirection) {
  logs(appId: $appId, from: $from, lastNano: $lastNano, limit: $limit, direction: $direction) {
    lines { ${LINE} }
    lastNano
  }
}`;

const EVENT = `__typename ... on LogLine { ${LINE} } ... on LogsLagged { skipped first last }`;

export const LOG_FOLLOW = `subscription Logs($appId: ID!, $from: String) {
  logs(appId: $appId, from: $from) { ${EVENT} }
}`;

export const BUILD_LOGS = `subscription BuildLogs($deployment: ID!) {
  buildLogs(deployment: $deployment) { ${EVENT} }
}`;
