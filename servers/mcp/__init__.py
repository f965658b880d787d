"""The MCP servers: CRM data (`crm`), and later analysis and orchestration, over stdio or HTTP."""
