CREATE TABLE `key_budgets` (
	`key_id` text PRIMARY KEY NOT NULL,
	`calls_per_minute` integer,
	`calls_per_day` integer,
	`tokens_per_minute` integer,
	`tokens_per_day` integer,
	`updated_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')) NOT NULL,
	FOREIGN KEY (`key_id`) REFERENCES `keys`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE TABLE `llm_spend` (
	`subject` text NOT NULL,
	`period` text NOT NULL,
	`start` text NOT NULL,
	`calls` integer DEFAULT 0 NOT NULL,
	`tokens` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`subject`, `period`, `start`)
);
--> statement-breakpoint
CREATE INDEX `llm_spend_start_idx` ON `llm_spend` (`start`);