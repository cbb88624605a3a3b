/**
 * The languages IFEval's `language:response_language` can ask for (the reference's
 * `LANGUAGE_CODES`: ISO 639-1 code -> the name its instruction text uses). All of them are among
 * the 55 languages langdetect can report.
 */
export const IFEVAL_LANGUAGES = {
  en: "English",
  es: "Spanish",
  pt: "Portuguese",
  ar: "Arabic",
  hi: "Hindi",
  fr: "French",
  ru: "Russian",
  de: "German",
  ja: "Japanese",
  it: "Italian",
  bn: "Bengali",
  uk: "Ukrainian",
  th: "Thai",
  ur: "Urdu",
  ta: "Tamil",
  te: "Telugu",
  bg: "Bulgarian",
  ko: "Korean",
  pl: "Polish",
  he: "Hebrew",
  fa: "Persian",
  vi: "Vietnamese",
  ne: "Nepali",
  sw: "Swahili",
  kn: "Kannada",
  mr: "Marathi",
  gu: "Gujarati",
  pa: "Punjabi",
  ml: "Malayalam",
  fi: "Finnish",
} as const;

export type IfevalLanguageCode = keyof typeof IFEVAL_LANGUAGES;
export const IFEVAL_LANGUAGE_CODES = Object.keys(IFEVAL_LANGUAGES) as [IfevalLanguageCode, ...IfevalLanguageCode[]];
