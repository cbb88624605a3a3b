/** The API a command talks to: --api and --key, or IOPO_API_URL and IOPO_API_KEY. */
export function apiConnection(values: { api?: string; key?: string }): { base: string; key: string | undefined } {
  return { base: (values.api ?? process.env.IOPO_API_URL ?? "").replace(/\/+$/, ""), key: values.key ?? process.env.IOPO_API_KEY };
}
