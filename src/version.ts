/** The service version reported by /v1/health and the OpenAPI document (kept equal to package.json by a test). */
export const VERSION = "0.1.0";
export const API_TITLE = "iopo API";
